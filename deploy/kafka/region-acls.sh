#!/usr/bin/env bash
# One SCRAM user per region, confined by ACLs to the region's own stream and consumer groups.
#
# Reads `region_id=password` lines (the regions file, deploy/regions.env; `#` comments and
# blank lines skipped) and, for each region, against the internal listener:
#   - creates its topic yrkesresan.region.<region_id>.v1 if missing, kept forever (a region
#     may replay from the start), so a region can attach before its first event is routed;
#   - sets the SCRAM-SHA-512 credentials of user `region-<region_id>`;
#   - allows that user Read and Describe on its topic (a literal name) and on consumer groups
#     whose id starts with `region.<region_id>.` (a prefix: the region names its own groups).
# Nothing else is allowed: the broker runs with allow.everyone.if.no.acl.found=false, so the
# service topics, other regions' topics and groups, and every write stay closed to regions.
# Idempotent: run it again after adding a region or changing a password.
#
# Usage: region-acls.sh REGIONS_FILE [BOOTSTRAP]   (KAFKA_BIN: where the kafka-*.sh tools are)
set -euo pipefail

regions_file="${1:?usage: region-acls.sh REGIONS_FILE [BOOTSTRAP]}"
bootstrap="${2:-kafka:9092}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"
partitions="${REGION_TOPIC_PARTITIONS:-3}"

count=0
while IFS= read -r line || [ -n "$line" ]; do
  line="${line%%#*}"
  line="$(echo "$line" | tr -d '[:space:]')"
  [ -z "$line" ] && continue
  region="${line%%=*}"
  password="${line#*=}"
  if ! [[ "$region" =~ ^[A-Za-z0-9._-]{1,200}$ ]] || [ "$region" = "$line" ]; then
    echo "region-acls: a line is not region_id=password (region ids: letters, digits . _ -)" >&2
    exit 2
  fi
  if ! [[ "$password" =~ ^[A-Za-z0-9_-]{16,}$ ]]; then
    echo "region-acls: the password of $region must be 16+ letters, digits, - or _" >&2
    exit 2
  fi
  if [[ "$password" == change-me* ]]; then
    echo "region-acls: the password of $region is still a placeholder" >&2
    exit 2
  fi
  user="region-$region"
  topic="yrkesresan.region.$region.v1"
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor "${REPLICATION_FACTOR:-1}" \
    --config retention.ms=-1 --config "min.insync.replicas=${MIN_INSYNC_REPLICAS:-1}"
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter --entity-type users \
    --entity-name "$user" --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]"
  "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --add --allow-principal "User:$user" \
    --operation Read --operation Describe --topic "$topic"
  "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --add --allow-principal "User:$user" \
    --operation Read --operation Describe --group "region.$region." \
    --resource-pattern-type prefixed
  echo "region-acls: $user may read $topic and groups region.$region.*"
  count=$((count + 1))
done < "$regions_file"
echo "region-acls: $count regions"
