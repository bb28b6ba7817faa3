#!/usr/bin/env bash
# One-shot job (docker-compose.yml service `kafka-acls`, on the apache/kafka image), connecting as
# the admin super user: sets every UISE service's SCRAM-SHA-512 password from its
# UISE_KAFKA_<SERVICE>_PASSWORD variable and grants the ACLs listed in acls.sh (generated from the
# contracts' topic table by `python -m uise_stack.kafka_acls`). Then it checks that each service
# principal holds exactly the grants acls.sh gives it and that no ACL names the wildcard
# principal, so a grant left over from an older topic table fails the job instead of lingering
# (remove it with kafka-acls.sh --remove; docs/operations.md). Safe to run again: passwords are
# reset to the variables' values and existing grants are kept.
set -euo pipefail

kafka_home=${UISE_KAFKA_HOME:-/opt/kafka}  # another home only for the offline test of this script
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bootstrap=${UISE_KAFKA_BOOTSTRAP:-kafka:9092}

die() { echo "kafka-acls: $*" >&2; exit 1; }

check_password() {
  local name=$1 value=${!1:-}
  [[ -n $value ]] || die "$name is not set (see .env.example)"
  [[ $value =~ ^[A-Za-z0-9._~-]{20,}$ ]] \
    || die "$name must be at least 20 characters of A-Z a-z 0-9 . _ ~ - (openssl rand -hex 32)"
}

check_password UISE_KAFKA_ADMIN_PASSWORD

umask 077
admin_config=$(mktemp)
trap 'rm -f "$admin_config"' EXIT
cat >"$admin_config" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$UISE_KAFKA_ADMIN_PASSWORD";
EOF
admin=(--bootstrap-server "$bootstrap" --command-config "$admin_config")

declare -A granted=()  # principal -> number of ACL bindings acls.sh grants it

scram_user() {  # scram_user <service> <variable holding its password>
  local user=$1 variable=$2
  check_password "$variable"
  "$kafka_home/bin/kafka-configs.sh" "${admin[@]}" --alter --entity-type users \
    --entity-name "$user" --add-config "SCRAM-SHA-512=[password=${!variable}]" >/dev/null
  granted[$user]=${granted[$user]:-0}
  echo "User:$user: SCRAM-SHA-512 password set from $variable"
}

allow() {  # allow <service> <operation> <topic|group> <literal|prefixed> <name>...
  local user=$1 operation=$2 type=$3 pattern=$4
  shift 4
  local name resources=()
  for name in "$@"; do resources+=("--$type" "$name"); done
  "$kafka_home/bin/kafka-acls.sh" "${admin[@]}" --add --allow-principal "User:$user" \
    --operation "$operation" --resource-pattern-type "$pattern" "${resources[@]}" >/dev/null
  granted[$user]=$((${granted[$user]:-0} + $#))
  echo "User:$user: $operation on $# $pattern $type(s)"
}

# shellcheck source=acls.sh
. "$here/acls.sh"

# Every binding is listed as "(principal=User:<name>, host=..., operation=..., permissionType=...)".
listing=$("$kafka_home/bin/kafka-acls.sh" "${admin[@]}" --list)
if grep -q 'principal=User:\*,' <<<"$listing"; then
  die "an ACL names the wildcard principal User:*; remove it"
fi
for user in "${!granted[@]}"; do
  held=$(grep -c "principal=User:$user," <<<"$listing" || true)
  if [[ $held != "${granted[$user]}" ]]; then
    grep -B1 "principal=User:$user," <<<"$listing" >&2 || true
    die "User:$user holds $held ACL bindings but acls.sh grants ${granted[$user]}: remove the stale ones with kafka-acls.sh --remove"
  fi
done
echo "kafka-acls: ${#granted[@]} service principals hold exactly the grants of acls.sh"
