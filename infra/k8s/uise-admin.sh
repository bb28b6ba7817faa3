#!/bin/sh
# Runs one operator's command in a throw-away pod of the cluster, as the Kafka admin principal
# (Secret uise-kafka-admin) with the services' configuration (the ConfigMap deployment/intake
# reads), then deletes the pod. docs/runbook.md uses it:
#
#   infra/k8s/uise-admin.sh uise-dlq list uise.submission.received.v1.dlq
#   infra/k8s/uise-admin.sh uise-dlq redrive uise.submission.received.v1.dlq
#   infra/k8s/uise-admin.sh python -m uise_stack.topics
#   infra/k8s/uise-admin.sh kafka kafka-consumer-groups.sh --describe --group uise-signature.uise.submission.received.v1
#
# A command starting with `kafka` runs one of Kafka's own tools (apache/kafka, as the broker) with
# `--bootstrap-server` and `--command-config` (the admin's SCRAM login) added; anything else runs
# in the UISE image the Deployments run. Needs kubectl with access to the namespace
# (UISE_NAMESPACE, default uise). Arguments are words of letters, digits and . _ - = : / , only.
set -eu

ns=${UISE_NAMESPACE:-uise}
kafka_image=apache/kafka:3.9.0
die() { echo "uise-admin: $*" >&2; exit 2; }

[ $# -gt 0 ] || die "usage: uise-admin.sh <command> [args...] | kafka <kafka-tool.sh> [args...]"
for word in "$@"; do
  case $word in
    "" | *[!A-Za-z0-9._=:/,-]*) die "refusing the argument '$word' (letters, digits and . _ - = : / , only)" ;;
  esac
done

json_array() {  # the arguments as a JSON array of strings (they need no escaping: checked above)
  out=""
  for word in "$@"; do out="$out${out:+,}\"$word\""; done
  printf '[%s]' "$out"
}

image=$(kubectl -n "$ns" get deployment intake -o 'jsonpath={.spec.template.spec.containers[0].image}')
config=$(kubectl -n "$ns" get deployment intake \
  -o 'jsonpath={.spec.template.spec.containers[0].envFrom[0].configMapRef.name}')
[ -n "$image" ] && [ -n "$config" ] || die "cannot read deployment/intake in namespace $ns"

if [ "$1" = kafka ]; then
  shift
  [ $# -gt 0 ] || die "which Kafka tool? e.g. kafka kafka-consumer-groups.sh --list"
  case $1 in *.sh) ;; *) die "$1 is not one of Kafka's tools (kafka-*.sh)" ;; esac
  tool=$1
  shift
  # the admin's login, written inside the pod from the Secret, never on this machine's disk
  script='umask 077; printf "%s\n" "security.protocol=$UISE_KAFKA_SECURITY_PROTOCOL" "sasl.mechanism=$UISE_KAFKA_SASL_MECHANISM" "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$UISE_KAFKA_USERNAME\" password=\"$UISE_KAFKA_PASSWORD\";" > /tmp/admin.properties; exec "/opt/kafka/bin/$0" "$@" --bootstrap-server "$UISE_KAFKA_BOOTSTRAP" --command-config /tmp/admin.properties'
  run_image=$kafka_image
  user=1000  # the image's appuser
  env='[{"name": "LOG_DIR", "value": "/tmp/kafka-logs"}]'  # kafka-run-class.sh makes it
  # The script holds quotes and backslashes, which the argument check refuses; it is ours, so it
  # is escaped for JSON here.
  escaped=$(printf '%s' "$script" | sed 's/\\/\\\\/g; s/"/\\"/g')
  command="[\"bash\",\"-c\",\"$escaped\",$(json_array "$tool" "$@" | sed 's/^\[//; s/\]$//')]"
else
  run_image=$image
  user=10001  # the image's uise (Dockerfile)
  env='[]'
  command=$(json_array "$@")
fi

pod="uise-admin-$(date +%s)"
overrides=$(cat <<EOF
{"apiVersion": "v1", "spec": {
  "automountServiceAccountToken": false,
  "restartPolicy": "Never",
  "securityContext": {"runAsNonRoot": true, "runAsUser": $user, "runAsGroup": $user,
                      "seccompProfile": {"type": "RuntimeDefault"}},
  "containers": [{
    "name": "admin",
    "image": "$run_image",
    "command": $command,
    "env": $env,
    "envFrom": [{"configMapRef": {"name": "$config"}}, {"secretRef": {"name": "uise-kafka-admin"}}],
    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "768Mi"}},
    "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"]}},
    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": "/var/lib/uise"}],
    "stdin": true
  }],
  "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "data", "emptyDir": {}}]
}}
EOF
)
exec kubectl -n "$ns" run "$pod" --rm -i --restart=Never --image="$run_image" \
  --labels=app.kubernetes.io/name=uise-admin,app.kubernetes.io/part-of=uise --overrides="$overrides"
