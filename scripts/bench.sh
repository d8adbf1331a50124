#!/usr/bin/env bash
# Side-by-side benchmark of the seed workload: this library (Rust) and Python eventsourcing
# 9.3.5, in memory and on one local moto DynamoDB server, in one run on one machine.
# Writes the table to bench/results.md (quoted in the README) and prints it.
#
#   scripts/bench.sh                  # defaults below
#   DOGS=1000 TRICKS=10 DYNAMO_DOGS=100 DYNAMO_TRICKS=10 scripts/bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dogs="${DOGS:-1000}" tricks="${TRICKS:-10}"
dynamo_dogs="${DYNAMO_DOGS:-100}" dynamo_tricks="${DYNAMO_TRICKS:-10}"
python="$(scripts/venv.sh)"
cargo build --quiet --release --example training_school_bench
rust_bench="$root/target/release/examples/training_school_bench"
unset PERSISTENCE_MODULE DYNAMO_ENDPOINT_URL DYNAMO_TABLE CREATE_TABLE AGGREGATE_CACHE_MAXSIZE AGGREGATE_CACHE_FASTFORWARD || true

seconds() { sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$1" | tail -1; }

echo "in memory: $dogs dogs x $tricks tricks ..." >&2
rust_memory="$("$rust_bench" --dogs "$dogs" --tricks "$tricks")"
python_memory="$("$python" scripts/bench_python.py --dogs "$dogs" --tricks "$tricks")"

eval "$(scripts/moto.sh start)"
trap 'scripts/moto.sh stop "$MOTO_PID"' EXIT
log="$root/target/moto-${DYNAMO_TEST_ENDPOINT##*:}.log"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
requests() { grep -c '"POST / HTTP' "$log" || true; }

echo "on moto: $dynamo_dogs dogs x $dynamo_tricks tricks ..." >&2
before="$(requests)"
rust_dynamo="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$DYNAMO_TEST_ENDPOINT" \
  DYNAMO_TABLE=bench-rust CREATE_TABLE=true "$rust_bench" --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
rust_requests=$(( $(requests) - before ))

# The Python package needs the table to exist.
"$python" - "$DYNAMO_TEST_ENDPOINT" <<'PY'
import sys, boto3
boto3.client("dynamodb", endpoint_url=sys.argv[1]).create_table(
    TableName="bench-python", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "originator_id", "KeyType": "HASH"},
               {"AttributeName": "originator_version", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "originator_id", "AttributeType": "S"},
                          {"AttributeName": "originator_version", "AttributeType": "N"}])
PY
before="$(requests)"
python_dynamo="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$DYNAMO_TEST_ENDPOINT" \
  DYNAMO_TABLE=bench-python "$python" scripts/bench_python.py --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
python_requests=$(( $(requests) - before ))

memory_commands=$(( dogs * (tricks + 2) ))
dynamo_commands=$(( dynamo_dogs * (dynamo_tricks + 2) ))
rm_s="$(seconds "$rust_memory")" pm_s="$(seconds "$python_memory")"
rd_s="$(seconds "$rust_dynamo")" pd_s="$(seconds "$python_dynamo")"
mkdir -p bench
{
  echo "Seed workload (register D dogs, add T tricks to each, read every dog's tricks), $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)."
  echo "Rust: release build, aggregate cache on without fast-forward (one writer). Python: eventsourcing 9.3.5 defaults; on DynamoDB eventsourcing_dynamodb 0.1.0."
  echo "DynamoDB: one local moto server (scripts/moto_serial.py), requests counted from its request log."
  echo
  echo "| store | commands | Rust seconds | Python seconds | speed-up | Rust commands/s | Python commands/s | Rust requests/command | Python requests/command |"
  echo "|---|---|---|---|---|---|---|---|---|"
  awk -v c="$memory_commands" -v r="$rm_s" -v p="$pm_s" 'BEGIN { printf "| memory (%s) | %d | %.3f | %.3f | %.0fx | %.0f | %.0f | - | - |\n", "'"${dogs}x${tricks}"'", c, r, p, p/r, c/r, c/p }'
  awk -v c="$dynamo_commands" -v r="$rd_s" -v p="$pd_s" -v rq="$rust_requests" -v pq="$python_requests" 'BEGIN { printf "| moto DynamoDB (%s) | %d | %.3f | %.3f | %.1fx | %.0f | %.0f | %.2f | %.2f |\n", "'"${dynamo_dogs}x${dynamo_tricks}"'", c, r, p, p/r, c/r, c/p, rq/c, pq/c }'
} > bench/results.md
cat bench/results.md
