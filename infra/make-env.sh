#!/bin/sh
# Writes .env next to docker-compose.yml with a fresh random value for every empty variable of
# .env.example, readable by its owner only. Refuses to replace an existing .env: the Kafka
# bootstrap passwords are written into the broker's log directory on its first start, so new
# values would lock the init jobs out (docs/operations.md says how to rotate them).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
example="$root/.env.example"
target="$root/.env"

[ -f "$example" ] || { echo "make-env: $example not found" >&2; exit 1; }
[ ! -e "$target" ] || { echo "make-env: $target exists; not replacing its secrets" >&2; exit 1; }

random_hex() {  # random_hex <bytes>: 2*<bytes> hexadecimal characters from the kernel's CSPRNG
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

umask 077
tmp="$target.tmp.$$"
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    UISE_MINIO_ROOT_USER=) echo "UISE_MINIO_ROOT_USER=uise-root-$(random_hex 4)" ;;
    # MinIO takes secret keys of at most 40 characters.
    UISE_S3_*_SECRET_KEY= | UISE_MINIO_ROOT_PASSWORD=) echo "${line}$(random_hex 20)" ;;
    [A-Z]*=) echo "${line}$(random_hex 32)" ;;
    *) echo "$line" ;;
  esac
done <"$example" >"$tmp"
mv "$tmp" "$target"
trap - EXIT
echo "make-env: wrote $target"
