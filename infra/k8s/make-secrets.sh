#!/bin/sh
# Writes the production overlay's local inputs (overlays/production/local/, which git and the
# Docker build context ignore), readable by their owner only:
#   <service>.env, database.env, kafka-admin.env, portal.env   the Secrets' values
#   trust.yaml                                                 ConfigMap uise-trust: the CA certificates
#   kafka/acls.sh, kafka/setup-security.sh                     copies for the uise-kafka-acls Job
# The values come from the variables docker-compose.yml reads (.env.example; infra/make-env.sh
# writes a fresh .env), so one .env serves both. Run it again after changing a value, a
# certificate or the contracts (acls.sh), then `kubectl apply -k overlays/production`.
#
#   infra/k8s/make-secrets.sh [--env FILE] [--trust DIR] [--overlay DIR]
#
# FILE defaults to .env at the repository root (its variables win over the environment's; without
# it, the environment alone), DIR to infra/trust/ (every file there but README*), the overlay to
# infra/k8s/overlays/production. The database URL is made as compose makes it, from
# UISE_DB_PASSWORD and UISE_DB_HOST (host:port, default postgres:5432), UISE_DB_USER and
# UISE_DB_NAME (default uise).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
env_file="$root/.env"
trust_dir="$root/infra/trust"
overlay="$here/overlays/production"

die() { echo "make-secrets: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --env) env_file=$2; shift 2 ;;
    --trust) trust_dir=$2; shift 2 ;;
    --overlay) overlay=$2; shift 2 ;;
    *) die "unknown argument $1 (usage: make-secrets.sh [--env FILE] [--trust DIR] [--overlay DIR])" ;;
  esac
done

case $env_file in */*) ;; *) env_file="./$env_file" ;; esac  # `.` searches PATH otherwise
if [ -f "$env_file" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
fi

value() {  # value <variable>: its value, refusing an empty one or one Kafka's JAAS file cannot hold
  eval "v=\${$1:-}"
  [ -n "$v" ] || die "$1 is not set (see .env.example; infra/make-env.sh writes a .env)"
  case $v in
    *[!A-Za-z0-9._~-]*) die "$1 must be letters, digits and . _ ~ - only" ;;
  esac
  [ "${#v}" -ge 20 ] || die "$1 must be at least 20 characters"
  printf '%s' "$v"
}

upper() { printf '%s' "$1" | tr 'a-z' 'A-Z'; }

local_dir="$overlay/local"
umask 077
mkdir -p "$local_dir/kafka"

# Each value is read into a variable first: `set -e` stops at a failing assignment, not at an
# echo whose $(...) failed.
for service in registry identity intake signature validation routing deadline reporting; do
  service_upper=$(upper "$service")
  kafka_password=$(value "UISE_KAFKA_${service_upper}_PASSWORD")
  out="$local_dir/$service.env"
  echo "UISE_KAFKA_PASSWORD=$kafka_password" >"$out.tmp"
  case $service in
    intake | signature | validation | reporting)
      s3_secret=$(value "UISE_S3_${service_upper}_SECRET_KEY")
      echo "UISE_S3_SECRET_KEY=$s3_secret" >>"$out.tmp" ;;
  esac
  case $service in
    identity)
      passphrase=$(value UISE_IDENTITY_KEY_PASSPHRASE)
      echo "UISE_IDENTITY_KEY_PASSPHRASE=$passphrase" >>"$out.tmp" ;;
    reporting)
      link_key=$(value UISE_REPORTING_LINK_KEY)
      echo "UISE_REPORTING_LINK_KEY=$link_key" >>"$out.tmp" ;;
  esac
  mv "$out.tmp" "$out"
done

db_password=$(value UISE_DB_PASSWORD)
admin_password=$(value UISE_KAFKA_ADMIN_PASSWORD)
session_key=$(value UISE_PORTAL_SESSION_KEY)
[ "${#session_key}" -ge 32 ] || die "UISE_PORTAL_SESSION_KEY must be at least 32 characters"
db_url="postgresql+psycopg://${UISE_DB_USER:-uise}:$db_password@${UISE_DB_HOST:-postgres:5432}/${UISE_DB_NAME:-uise}"
echo "UISE_DATABASE_URL=$db_url" >"$local_dir/database.env"
echo "UISE_KAFKA_PASSWORD=$admin_password" >"$local_dir/kafka-admin.env"
echo "UISE_PORTAL_SESSION_KEY=$session_key" >"$local_dir/portal.env"

# The trust anchors: one binaryData entry per certificate file (PEM or DER alike).
[ -d "$trust_dir" ] || die "$trust_dir is not a directory"
tmp="$local_dir/trust.yaml.tmp"
{
  echo "# Written by infra/k8s/make-secrets.sh from $(basename "$trust_dir")/: do not edit."
  echo "apiVersion: v1"
  echo "kind: ConfigMap"
  echo "metadata:"
  echo "  name: uise-trust"
  echo "binaryData:"
} >"$tmp"
count=0
for path in "$trust_dir"/*; do
  [ -f "$path" ] || continue
  name=$(basename "$path")
  case $name in README* | .*) continue ;; esac
  case $name in *[!A-Za-z0-9._-]*) die "$name: a ConfigMap key may hold only letters, digits and . _ -" ;; esac
  echo "  $name: $(base64 <"$path" | tr -d '\n')" >>"$tmp"
  count=$((count + 1))
done
[ "$count" -gt 0 ] || die "no CA certificate in $trust_dir (put the NCA RK root and intermediate certificates there)"
mv "$tmp" "$local_dir/trust.yaml"

cp "$root/infra/kafka/acls.sh" "$root/infra/kafka/setup-security.sh" "$local_dir/kafka/"
echo "make-secrets: wrote $local_dir ($count CA certificate(s))"
