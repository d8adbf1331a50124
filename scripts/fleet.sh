#!/usr/bin/env bash
# The fleet benchmark, in one command: P OS processes saving their own aggregates against one
# fresh table, for P in 1 2 4 8, the notification log on and off, on DynamoDB Local and moto,
# then a verification of every table (benchmarks/examples/fleet_bench.rs, benchmarks/examples/fleet_worker.rs).
# Starts its servers (and the latency proxy) and stops them on exit. Writes bench/fleet.md.
#
# Usage: scripts/fleet.sh [--latency-ms L [--jitter-ms J]] [--rate FAULT=P ...]
#   --latency-ms L  also runs DynamoDB Local through fault-proxy adding L ms (+ up to J ms,
#                   default 1) to every request, as a real region's round trip would.
#   --rate FAULT=P  (repeatable) the proxy also injects that fault (fault-proxy's names:
#                   throttling, internal-error, lose-response, …) into a fraction P of requests;
#                   its fault counts are printed when it stops.
# Sizes and settings (environment):
#   FLEET_SERVERS="dynamodb-local moto"  which direct servers to run (may be empty with --latency-ms)
#   FLEET_COMMANDS=100        commands per process on DynamoDB Local (and through the proxy)
#   FLEET_MOTO_COMMANDS=30    commands per process on moto (it serves one request at a time)
#   FLEET_PROCESSES=1,2,4,8   FLEET_LOGS=on,off   FLEET_AGGREGATES=4   FLEET_TASKS=1
#   FLEET_REPEAT=3            runs per setting (fresh table each); the table shows medians and the spread
#   FLEET_WARMUP=20           commands per process of an unreported 2-process warm-up per server and log (0: none)
#   FLEET_CACHE=SIZE          turns the aggregate cache on in the workers (AGGREGATE_CACHE_MAXSIZE)
#   FLEET_TIMEOUT_SECONDS=300 the most one fleet run may take before its workers are stopped
#   FLEET_OUT=bench/fleet.md  FLEET_SECTION=name of the table's section in that file
# Exits non-zero when any verification fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

latency=""
jitter="1"
rates=()
faults=""
while [ $# -gt 0 ]; do
  case "$1" in
    --latency-ms) latency="${2:?--latency-ms takes milliseconds}"; shift 2 ;;
    --jitter-ms) jitter="${2:?--jitter-ms takes milliseconds}"; shift 2 ;;
    --rate) rates+=("${2:?--rate takes FAULT=P}"); shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done

servers="${FLEET_SERVERS-dynamodb-local moto}"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

target_dir="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release -p eventsourcing-benchmarks --example fleet_worker --example fleet_bench
proxied=""
if [ -n "$latency" ] || [ ${#rates[@]} -gt 0 ]; then
  proxied=yes
  latency="${latency:-0}"
  cargo build --release -p fault-proxy --bin fault-proxy
fi
examples="$target_dir/release/examples"

dynamodb_pid="" moto_pid="" proxy_pid=""
work="$(mktemp -d)"
cleanup() {
  if [ -n "$proxy_pid" ]; then
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    cat "$work/proxy.err" >&2 # its fault counts
  fi
  if [ -n "$dynamodb_pid" ]; then scripts/dynamodb_local.sh stop "$dynamodb_pid"; fi
  if [ -n "$moto_pid" ]; then scripts/moto.sh stop "$moto_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

targets=()
if [[ " $servers " == *" dynamodb-local "* ]] || [ -n "$proxied" ]; then
  eval "$(scripts/dynamodb_local.sh start)"
  dynamodb_pid="$DYNAMODB_LOCAL_PID"
  echo "DynamoDB Local at $DYNAMODB_LOCAL_ENDPOINT (pid $dynamodb_pid)" >&2
  if [[ " $servers " == *" dynamodb-local "* ]]; then
    targets+=(--target "DynamoDB Local 1.25.1|$DYNAMODB_LOCAL_ENDPOINT|$DYNAMODB_LOCAL_ENDPOINT|${FLEET_COMMANDS:-100}|$dynamodb_pid")
  fi
fi
if [[ " $servers " == *" moto "* ]]; then
  eval "$(scripts/moto.sh start)"
  moto_pid="$MOTO_PID"
  moto_version="$("$(scripts/venv.sh)" -c 'import moto; print(moto.__version__)')"
  echo "moto $moto_version at $DYNAMO_TEST_ENDPOINT (pid $moto_pid)" >&2
  targets+=(--target "moto $moto_version (serial)|$DYNAMO_TEST_ENDPOINT|$DYNAMO_TEST_ENDPOINT|${FLEET_MOTO_COMMANDS:-30}|$moto_pid")
fi
if [ -n "$proxied" ]; then
  rate_args=()
  for rate in "${rates[@]}"; do rate_args+=(--rate "$rate"); done
  "$target_dir/release/fault-proxy" --upstream "$DYNAMODB_LOCAL_ENDPOINT" \
    --latency-ms "$latency" --jitter-ms "$jitter" "${rate_args[@]}" >"$work/proxy.out" 2>"$work/proxy.err" &
  proxy_pid=$!
  proxy=""
  for _ in $(seq 1 100); do
    proxy="$(sed -n 's/^listening \(http:[^ ]*\).*/\1/p' "$work/proxy.out")"
    [ -n "$proxy" ] && break
    kill -0 "$proxy_pid" 2>/dev/null || { echo "fault-proxy exited: $(cat "$work/proxy.err")" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$proxy" ] || { echo "fault-proxy did not start" >&2; exit 1; }
  faults=""
  [ ${#rates[@]} -gt 0 ] && faults="; ${rates[*]}"
  echo "fault-proxy at $proxy (+$latency ms, jitter $jitter ms$faults) in front of DynamoDB Local" >&2
  targets+=(--target "DynamoDB Local + ${latency}±${jitter} ms (fault-proxy$faults)|$proxy|$DYNAMODB_LOCAL_ENDPOINT|${FLEET_COMMANDS:-100}|$dynamodb_pid")
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "nothing to run: FLEET_SERVERS is empty and no --latency-ms or --rate given" >&2
  exit 2
fi

names=()
[[ " $servers " == *" dynamodb-local "* ]] && names+=("DynamoDB Local")
[[ " $servers " == *" moto "* ]] && names+=("moto")
[ -n "$proxied" ] && names+=("DynamoDB Local through fault-proxy (+${latency} ms${faults})")
default_section="$(IFS=,; echo "${names[*]}" | sed 's/,/, /g')"
[ -n "${FLEET_CACHE:-}" ] && default_section="$default_section, aggregate cache ${FLEET_CACHE}"
cache_args=()
[ -n "${FLEET_CACHE:-}" ] && cache_args=(--cache "$FLEET_CACHE")

"$examples/fleet_bench" "${targets[@]}" \
  --processes "${FLEET_PROCESSES:-1,2,4,8}" --logs "${FLEET_LOGS:-on,off}" \
  --aggregates "${FLEET_AGGREGATES:-4}" --tasks "${FLEET_TASKS:-1}" \
  --timeout-seconds "${FLEET_TIMEOUT_SECONDS:-300}" --warmup "${FLEET_WARMUP:-20}" \
  --repeat "${FLEET_REPEAT:-3}" \
  --section "${FLEET_SECTION:-$default_section}" --out "${FLEET_OUT:-bench/fleet.md}" \
  "${cache_args[@]}"
