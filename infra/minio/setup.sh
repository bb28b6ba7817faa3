#!/bin/sh
# One-shot job (docker-compose.yml service `minio-init`, on the minio/mc image), and the only
# user of MinIO's root credentials: makes the document bucket, keeps it private (no anonymous
# listing, reading or writing, whatever was set before), and gives every service that uses object
# storage its own MinIO user `uise-<service>`, limited by its policy in policies/<service>.json.
# The user's secret key comes from $SECRET_KEY_<service>. Safe to run again: it resets each
# secret key to its variable and replaces each policy with the committed file.
#
# POSIX sh and mc only: the mc image has no grep or tr.
set -eu

here=${0%/*}
bucket=${UISE_S3_BUCKET:-uise-documents}
endpoint=${UISE_S3_URL:-http://minio:9000}

die() { echo "minio-init: $*" >&2; exit 1; }

[ -n "${MINIO_ROOT_USER:-}" ] || die "MINIO_ROOT_USER is not set (see .env.example)"
[ -n "${MINIO_ROOT_PASSWORD:-}" ] || die "MINIO_ROOT_PASSWORD is not set (see .env.example)"
mc alias set uise "$endpoint" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

mc mb --ignore-existing "uise/$bucket"
mc anonymous set none "uise/$bucket"
case $(mc anonymous get "uise/$bucket") in
  *private*) ;;
  *) die "uise/$bucket still allows anonymous access" ;;
esac

users=0
for policy in "$here"/policies/*.json; do
  service=${policy##*/}
  service=${service%.json}
  user="uise-$service"
  policy_name="uise-$service-policy"
  case $service in
    "" | *[!a-z]*) die "$policy: a policy file is named after its service, in a-z" ;;
  esac
  eval "secret=\${SECRET_KEY_$service:-}"
  [ -n "$secret" ] || die "SECRET_KEY_$service is not set (see .env.example)"
  case $secret in
    *[!A-Za-z0-9._~-]*) die "SECRET_KEY_$service may hold only A-Z a-z 0-9 . _ ~ -" ;;
  esac
  # MinIO accepts secret keys of 8 to 40 characters; fewer than 20 is too weak for a service.
  [ ${#secret} -ge 20 ] && [ ${#secret} -le 40 ] \
    || die "SECRET_KEY_$service must be 20 to 40 characters (openssl rand -hex 20)"

  mc admin user add uise "$user" "$secret" >/dev/null
  mc admin policy create uise "$policy_name" "$policy" >/dev/null
  # attach refuses a policy that is already attached; that is the state we want.
  mc admin policy attach uise "$policy_name" --user "$user" >/dev/null 2>&1 || true
  case $(mc admin user info uise "$user") in
    *"$policy_name"*) ;;
    *) die "$user does not hold $policy_name" ;;
  esac
  echo "minio-init: $user limited by policies/$service.json"
  users=$((users + 1))
done
[ "$users" -gt 0 ] || die "no policies in $here/policies"
echo "minio-init: bucket $bucket private, $users service users"
