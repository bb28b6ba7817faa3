#!/usr/bin/env bash
# Starts the production broker (the apache/kafka image, KRaft, one combined broker+controller
# node; docker-compose.yml service `kafka`) with authentication on every listener:
#
#   CLIENT      :9092  SASL_PLAINTEXT, SCRAM-SHA-512  services, init jobs, ops tools, inter-broker
#   CONTROLLER  :9093  SASL_PLAINTEXT, PLAIN          the KRaft quorum only
#
# The controller listener cannot use SCRAM: SCRAM credentials live in the metadata log that the
# quorum itself serves. Its one PLAIN user is the broker's own identity, `broker`.
#
# Non-secret settings come from the KAFKA_* environment, with the image's own naming rule
# (KAFKA_FOO_BAR -> foo.bar, ___ -> -, __ -> _). The two passwords come from
# UISE_KAFKA_BROKER_PASSWORD and UISE_KAFKA_ADMIN_PASSWORD and are written only into files
# under /opt/kafka/config readable by the broker's user alone. The first start formats the log
# directory with the SCRAM credentials of the two bootstrap principals (KIP-900): `broker`, and
# `admin`, the super user that only the init jobs use. Later starts leave the credentials alone:
# rotate them with kafka-configs.sh (docs/operations.md).
set -euo pipefail

kafka_home=${UISE_KAFKA_HOME:-/opt/kafka}  # another home only for the offline test of this script

die() { echo "broker-start: $*" >&2; exit 1; }

# JAAS and --add-scram have no quoting, so a password is limited to characters that need none.
need_password() {
  local name=$1 value=${!1:-}
  [[ -n $value ]] || die "$name is not set (see .env.example)"
  [[ $value =~ ^[A-Za-z0-9._~-]{20,}$ ]] \
    || die "$name must be at least 20 characters of A-Z a-z 0-9 . _ ~ - (openssl rand -hex 32)"
}

need_password UISE_KAFKA_BROKER_PASSWORD
need_password UISE_KAFKA_ADMIN_PASSWORD
[[ -n ${CLUSTER_ID:-} ]] || die "CLUSTER_ID is not set"

umask 077
config=$kafka_home/config/uise-server.properties
client_config=$kafka_home/config/uise-broker-client.properties

{
  echo "# written by broker-start.sh from the KAFKA_* environment"
  while IFS='=' read -r name value; do
    case $name in
      KAFKA_*_OPTS | KAFKA_VERSION | KAFKA_JMX_* | KAFKA_LOG4J_* | KAFKA_TOOLS_*) continue ;;
      KAFKA_*) ;;
      *) continue ;;
    esac
    key=${name#KAFKA_}
    key=${key,,}
    key=${key//_/.}
    key=${key//.../-}
    key=${key//../_}
    printf '%s=%s\n' "$key" "$value"
  done < <(env)
  # The broker's own identity on both listeners (super user: inter-broker and quorum traffic).
  echo "listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" password=\"$UISE_KAFKA_BROKER_PASSWORD\";"
  echo "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"broker\" password=\"$UISE_KAFKA_BROKER_PASSWORD\" user_broker=\"$UISE_KAFKA_BROKER_PASSWORD\";"
} >"$config"

# For the container's healthcheck (kafka-broker-api-versions.sh --command-config).
cat >"$client_config" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$UISE_KAFKA_BROKER_PASSWORD";
EOF

"$kafka_home/bin/kafka-storage.sh" format --ignore-formatted --cluster-id "$CLUSTER_ID" \
  --config "$config" \
  --add-scram "SCRAM-SHA-512=[name=broker,password=$UISE_KAFKA_BROKER_PASSWORD]" \
  --add-scram "SCRAM-SHA-512=[name=admin,password=$UISE_KAFKA_ADMIN_PASSWORD]"

exec "$kafka_home/bin/kafka-server-start.sh" "$config"
