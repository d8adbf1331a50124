#!/usr/bin/env bash
# Side-by-side benchmark of the seed workload: this library (Rust) and Python eventsourcing
# 9.3.5, in memory and on one local moto DynamoDB server, in one run on one machine; then
# the scale figures (benchmarks/examples/scale_bench.rs, scripts/scale_python.py) in memory and on moto;
# then the seed workload and the scale figures again on AWS's DynamoDB Local.
# Writes the tables into bench/results.md (between its markers; the rest of that page is
# the reading of the figures) and prints them.
#
#   scripts/bench.sh                  # defaults below
#   DOGS=1000 TRICKS=10 REPEAT=5 DYNAMO_DOGS=100 DYNAMO_TRICKS=10 SCALE_EVENTS=10000 scripts/bench.sh
#
# In memory each side runs REPEAT times and its fastest run counts (as Python's timeit
# does): on a shared machine the slower runs measure the neighbours. On moto each side runs
# once; moto meters requests and capacity units (scripts/capacity_meter.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dogs="${DOGS:-1000}" tricks="${TRICKS:-10}" repeat="${REPEAT:-5}"
dynamo_dogs="${DYNAMO_DOGS:-100}" dynamo_tricks="${DYNAMO_TRICKS:-10}"
scale_events="${SCALE_EVENTS:-10000}"
python="$(scripts/venv.sh)"
"$python" scripts/capacity_meter.py >&2
cargo build --quiet --release -p eventsourcing-benchmarks --example training_school_bench \
  --example training_school_bench_malloc --example scale_bench
rust_bench="$root/target/release/examples/training_school_bench"
malloc_bench="$root/target/release/examples/training_school_bench_malloc"
scale_bench="$root/target/release/examples/scale_bench"
unset PERSISTENCE_MODULE DYNAMO_ENDPOINT_URL DYNAMO_TABLE CREATE_TABLE AGGREGATE_CACHE_MAXSIZE \
  AGGREGATE_CACHE_FASTFORWARD IS_SNAPSHOTTING_ENABLED || true

seconds() { sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$1" | tail -1; }
# The fastest of REPEAT runs of a command that prints `... seconds=S` last.
fastest() {
  local best="" run
  for _ in $(seq 1 "$repeat"); do
    run="$(seconds "$("$@")")"
    best="$(awk -v a="$run" -v b="$best" 'BEGIN { print (b == "" || a < b) ? a : b }')"
  done
  echo "$best"
}

echo "in memory: $dogs dogs x $tricks tricks, fastest of $repeat runs each ..." >&2
rm_s="$(fastest "$rust_bench" --dogs "$dogs" --tricks "$tricks")"
rmm_s="$(fastest "$malloc_bench" --dogs "$dogs" --tricks "$tricks")"
pm_s="$(fastest "$python" scripts/bench_python.py --dogs "$dogs" --tricks "$tricks")"
# Like for like: both without the aggregate cache (an empty variable is unset in both), and
# both with it, unbounded and without fast-forward.
rnc_s="$(fastest env AGGREGATE_CACHE_MAXSIZE= "$rust_bench" --dogs "$dogs" --tricks "$tricks")"
pc_s="$(fastest env AGGREGATE_CACHE_MAXSIZE=0 AGGREGATE_CACHE_FASTFORWARD=false \
  "$python" scripts/bench_python.py --dogs "$dogs" --tricks "$tricks")"
scale_memory="$("$scale_bench" --events "$scale_events")"
scale_python_memory="$("$python" scripts/scale_python.py --events "$scale_events" --loads 2)"

export MOTO_CAPACITY_METER=1
eval "$(scripts/moto.sh start)"
trap 'scripts/moto.sh stop "$MOTO_PID"' EXIT
log="$root/target/moto-${DYNAMO_TEST_ENDPOINT##*:}.log"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
mark() { wc -l <"$log"; }
# Data requests (not table management) and their read and write units since a mark.
metered() {
  tail -n +"$(($1 + 1))" "$log" | awk '$1 == "capacity" && $2 !~ /Table$/ {
      n++; split($3, r, "="); split($4, w, "="); read += r[2]; write += w[2] }
    END { printf "%d %s %s\n", n, read + 0, write + 0 }'
}

echo "on moto: $dynamo_dogs dogs x $dynamo_tricks tricks ..." >&2
start="$(mark)"
rust_dynamo="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$DYNAMO_TEST_ENDPOINT" \
  DYNAMO_TABLE=bench-rust CREATE_TABLE=true DYNAMO_NOTIFICATION_LOG=transactional "$rust_bench" --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
read -r rust_requests rust_rcu rust_wcu <<<"$(metered "$start")"
# The same without the notification log: what the log costs.
start="$(mark)"
rust_nolog="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$DYNAMO_TEST_ENDPOINT" \
  DYNAMO_TABLE=bench-rust-nolog CREATE_TABLE=true DYNAMO_NOTIFICATION_LOG=false \
  "$rust_bench" --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
read -r nolog_requests nolog_rcu nolog_wcu <<<"$(metered "$start")"
# The same with the sequenced log: event writes only, the log written by the sequencer.
start="$(mark)"
rust_seq="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$DYNAMO_TEST_ENDPOINT" \
  DYNAMO_TABLE=bench-rust-seq CREATE_TABLE=true DYNAMO_NOTIFICATION_LOG=sequenced \
  "$rust_bench" --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
read -r seq_requests seq_rcu seq_wcu <<<"$(metered "$start")"
seq_stream_requests="$(tail -n +"$((start + 1))" "$log" | grep -c '^stream ' || true)"

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
start="$(mark)"
python_dynamo="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$DYNAMO_TEST_ENDPOINT" \
  DYNAMO_TABLE=bench-python "$python" scripts/bench_python.py --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
read -r python_requests python_rcu python_wcu <<<"$(metered "$start")"

echo "scale on moto: $scale_events events ..." >&2
scale_dynamo="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$DYNAMO_TEST_ENDPOINT" \
  DYNAMO_TABLE=bench-scale CREATE_TABLE=true "$scale_bench" --events "$scale_events" --loads 2)"
scale_python_dynamo="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$DYNAMO_TEST_ENDPOINT" \
  DYNAMO_TABLE=bench-python "$python" scripts/scale_python.py --events "$scale_events" --loads 2)"

# The same on AWS's DynamoDB Local (scripts/dynamodb_local.sh). Its capacity figures are not
# trustworthy, so this part counts requests only (Rust counts its own; Python's are not counted).
eval "$(scripts/dynamodb_local.sh start)"
trap 'scripts/moto.sh stop "$MOTO_PID"; scripts/dynamodb_local.sh stop "$DYNAMODB_LOCAL_PID"' EXIT
ddbl="$DYNAMODB_LOCAL_ENDPOINT"
echo "on DynamoDB Local: $dynamo_dogs dogs x $dynamo_tricks tricks ..." >&2
rust_ddbl="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$ddbl" \
  DYNAMO_TABLE=bench-rust CREATE_TABLE=true DYNAMO_NOTIFICATION_LOG=transactional "$rust_bench" --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
rust_ddbl_nolog="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$ddbl" \
  DYNAMO_TABLE=bench-rust-nolog CREATE_TABLE=true DYNAMO_NOTIFICATION_LOG=false \
  "$rust_bench" --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
rust_ddbl_seq="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$ddbl" \
  DYNAMO_TABLE=bench-rust-seq CREATE_TABLE=true DYNAMO_NOTIFICATION_LOG=sequenced \
  "$rust_bench" --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
"$python" - "$ddbl" <<'PY'
import sys, boto3
boto3.client("dynamodb", endpoint_url=sys.argv[1]).create_table(
    TableName="bench-python", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "originator_id", "KeyType": "HASH"},
               {"AttributeName": "originator_version", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "originator_id", "AttributeType": "S"},
                          {"AttributeName": "originator_version", "AttributeType": "N"}])
PY
python_ddbl="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$ddbl" \
  DYNAMO_TABLE=bench-python "$python" scripts/bench_python.py --dogs "$dynamo_dogs" --tricks "$dynamo_tricks")"
echo "scale on DynamoDB Local: $scale_events events ..." >&2
scale_ddbl="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$ddbl" \
  DYNAMO_TABLE=bench-scale CREATE_TABLE=true "$scale_bench" --events "$scale_events" --loads 2)"
scale_python_ddbl="$(PERSISTENCE_MODULE=eventsourcing_dynamodb DYNAMO_ENDPOINT_URL="$ddbl" \
  DYNAMO_TABLE=bench-python "$python" scripts/scale_python.py --events "$scale_events" --loads 2)"

memory_commands=$(( dogs * (tricks + 2) ))
dynamo_commands=$(( dynamo_dogs * (dynamo_tricks + 2) ))
rd_s="$(seconds "$rust_dynamo")" pd_s="$(seconds "$python_dynamo")" rn_s="$(seconds "$rust_nolog")"
# `field NAME LINE-PREFIX OUTPUT`: the value of NAME=... on the line starting with the prefix.
field() { awk -v key="$1" -v line="$2" '$1 == line { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' <<<"$3"; }
# `, N requests` where the store counts requests.
requests_of() { local n; n="$(field requests_per_run "$1" "$2")"; [[ -z "$n" ]] || echo ", $n requests"; }
# A figure, or "n/a" when the run has no such line (Python's stack lacks the log).
figure() { if grep -q "^$2 " <<<"$3"; then echo "$1"; else echo "n/a"; fi; }
scale_row() {
  local store="$1" out="$2"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$store" \
    "$(field seconds write "$out") s$(requests_of write "$out") ($(field events_per_second write "$out") events/s)" \
    "$(field seconds_per_load load_replay "$out") s$(requests_of load_replay "$out")" \
    "$(figure "$(field seconds_per_load load_snapshot "$out") s$(requests_of load_snapshot "$out")" load_snapshot "$out")" \
    "$(figure "$(field notifications log_read "$out") in $(field seconds log_read "$out") s$(requests_of log_read "$out")" log_read "$out")" \
    "$(figure "$(field notifications_per_second log_read "$out")" log_read "$out")"
}
mkdir -p bench
{
  echo "Seed workload (register D dogs, add T tricks to each, read every dog's tricks), $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)."
  echo "Rust: release build, aggregate cache on without fast-forward (one writer), mimalloc as the global allocator (second row: glibc malloc). Python: eventsourcing 9.3.5 defaults (no cache), as the seed runs it; on DynamoDB eventsourcing_dynamodb 0.1.0. The third and fourth rows compare like for like: both without the cache, both with it (unbounded, no fast-forward)."
  echo "In memory: fastest of $repeat runs each. DynamoDB: one local moto server (scripts/moto_serial.py); data requests and capacity units metered by scripts/capacity_meter.py from item sizes (RCU/WCU as DynamoDB bills them)."
  echo
  echo "| store | commands | Rust seconds | Python seconds | speed-up | Rust commands/s | Python commands/s | Rust requests/command | Python requests/command | Rust RCU/command | Python RCU/command | Rust WCU/command | Python WCU/command |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  memory_row() {
    awk -v c="$memory_commands" -v r="$2" -v p="$3" -v label="memory (${dogs}x${tricks})$1" \
      'BEGIN { printf "| %s | %d | %.4f | %.3f | %.0fx | %.0f | %.0f | - | - | - | - | - | - |\n", label, c, r, p, p/r, c/r, c/p }'
  }
  memory_row "" "$rm_s" "$pm_s"
  memory_row ", Rust on the system allocator" "$rmm_s" "$pm_s"
  memory_row ", both without the aggregate cache" "$rnc_s" "$pm_s"
  memory_row ", both with the aggregate cache" "$rm_s" "$pc_s"
  awk -v c="$dynamo_commands" -v r="$rd_s" -v p="$pd_s" -v rq="$rust_requests" -v pq="$python_requests" \
    -v rr="$rust_rcu" -v pr="$python_rcu" -v rw="$rust_wcu" -v pw="$python_wcu" \
    'BEGIN { printf "| moto DynamoDB (%s), Rust with DYNAMO_NOTIFICATION_LOG=transactional | %d | %.3f | %.3f | %.1fx | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", "'"${dynamo_dogs}x${dynamo_tricks}"'", c, r, p, p/r, c/r, c/p, rq/c, pq/c, rr/c, pr/c, rw/c, pw/c }'
  awk -v c="$dynamo_commands" -v r="$rn_s" -v p="$pd_s" -v rq="$nolog_requests" -v pq="$python_requests" \
    -v rr="$nolog_rcu" -v pr="$python_rcu" -v rw="$nolog_wcu" -v pw="$python_wcu" \
    'BEGIN { printf "| moto DynamoDB (%s), Rust with DYNAMO_NOTIFICATION_LOG=false | %d | %.3f | %.3f | %.1fx | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", "'"${dynamo_dogs}x${dynamo_tricks}"'", c, r, p, p/r, c/r, c/p, rq/c, pq/c, rr/c, pr/c, rw/c, pw/c }'
  rs_s="$(seconds "$rust_seq")"
  awk -v c="$dynamo_commands" -v r="$rs_s" -v p="$pd_s" -v rq="$seq_requests" -v pq="$python_requests" \
    -v rr="$seq_rcu" -v pr="$python_rcu" -v rw="$seq_wcu" -v pw="$python_wcu" \
    'BEGIN { printf "| moto DynamoDB (%s), Rust with DYNAMO_NOTIFICATION_LOG=sequenced (the default) | %d | %.3f | %.3f | %.1fx | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", "'"${dynamo_dogs}x${dynamo_tricks}"'", c, r, p, p/r, c/r, c/p, rq/c, pq/c, rr/c, pr/c, rw/c, pw/c }'
  # `ddbl_row LABEL RUST-OUTPUT`: a DynamoDB Local row; requests per command from Rust's own count.
  ddbl_row() {
    local rq
    rq="$(grep -o 'requests_per_command=[0-9.]*' <<<"$2" | cut -d= -f2)"
    awk -v c="$dynamo_commands" -v r="$(seconds "$2")" -v p="$(seconds "$python_ddbl")" -v rq="${rq:-0}" -v label="$1" \
      'BEGIN { printf "| %s | %d | %.3f | %.3f | %.1fx | %.0f | %.0f | %.2f | - | - | - | - | - |\n", label, c, r, p, p/r, c/r, c/p, rq }'
  }
  ddbl_row "DynamoDB Local (${dynamo_dogs}x${dynamo_tricks}), Rust with DYNAMO_NOTIFICATION_LOG=transactional" "$rust_ddbl"
  ddbl_row "DynamoDB Local (${dynamo_dogs}x${dynamo_tricks}), Rust with DYNAMO_NOTIFICATION_LOG=false" "$rust_ddbl_nolog"
  ddbl_row "DynamoDB Local (${dynamo_dogs}x${dynamo_tricks}), Rust with DYNAMO_NOTIFICATION_LOG=sequenced (the default)" "$rust_ddbl_seq"
  echo
  echo "Sequenced rows: the requests and capacity include the sequencer's log pages and lease (the run waits for the log to hold every event before it ends); on moto the sequencer also made $seq_stream_requests DynamoDB Streams requests, billed apart as stream read request units and not counted in the table. The DynamoDB Local row's requests per command count every request the process sent, stream reads included."
  echo
  echo "DynamoDB Local rows: AWS's DynamoDB Local 1.25.1 (scripts/dynamodb_local.sh); its capacity figures are not trustworthy, so only Rust's own request count is shown."
  echo
  echo "Scale (benchmarks/examples/scale_bench.rs; Python: scripts/scale_python.py): one $scale_events-event aggregate written 50 events per save, loaded by replaying every event and from a snapshot 10 events back, then the whole notification log read in sections of 1000. eventsourcing_dynamodb 0.1.0 has no notification log, and its snapshots share keys with events, so Python shows write and replay only."
  echo
  echo "| store | write | load by replay | load from snapshot | notification log read | notifications/s |"
  echo "|---|---|---|---|---|---|"
  scale_row "memory, Rust" "$scale_memory"
  scale_row "memory, Python" "$scale_python_memory"
  scale_row "moto DynamoDB, Rust" "$scale_dynamo"
  scale_row "moto DynamoDB, Python" "$scale_python_dynamo"
  scale_row "DynamoDB Local, Rust" "$scale_ddbl"
  scale_row "DynamoDB Local, Python" "$scale_python_ddbl"
} >target/bench-tables.md
# Only the part between the markers is this run's; the page's text around it stays.
begin='<!-- scripts/bench.sh replaces what is between these markers -->'
end='<!-- end of scripts/bench.sh output -->'
if grep -qF "$begin" bench/results.md && grep -qF "$end" bench/results.md; then
  awk -v begin="$begin" -v end="$end" -v tables=target/bench-tables.md '
    $0 == begin { print; while ((getline line < tables) > 0) print line; skipping = 1; next }
    $0 == end { skipping = 0 }
    !skipping { print }' bench/results.md >target/bench-results.md
  mv target/bench-results.md bench/results.md
else
  { echo "$begin"; cat target/bench-tables.md; echo "$end"; } >bench/results.md
fi
cat target/bench-tables.md
