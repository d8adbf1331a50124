#!/usr/bin/env bash
# The test command. Installs moto (into .venv) and AWS's DynamoDB Local (into .dynamodb-local),
# and PostgreSQL (Debian's package, when missing); starts them on free loopback ports; runs
# every test with moto (in memory, on DynamoDB and on PostgreSQL; examples, UI tests and
# doctests included), runs every test binary that uses DynamoDB again with DynamoDB Local,
# stops the servers, and ends with a summary of what failed.
# Extra arguments go to each `cargo test`.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$(date +%s)
logs="$root/target/test-logs"
mkdir -p "$logs"

eval "$(scripts/moto.sh start)" || exit 1
eval "$(scripts/dynamodb_local.sh start)" || { scripts/moto.sh stop "$MOTO_PID"; exit 1; }
eval "$(scripts/postgres.sh start)" || {
  scripts/moto.sh stop "$MOTO_PID"; scripts/dynamodb_local.sh stop "$DYNAMODB_LOCAL_PID"; exit 1; }
trap 'scripts/moto.sh stop "$MOTO_PID"; scripts/dynamodb_local.sh stop "$DYNAMODB_LOCAL_PID"; scripts/postgres.sh stop "$POSTGRES_PID"' EXIT
# The PostgreSQL view store's tests (and the projection examples) use this server.
export POSTGRES_TEST_URL

export PYTHON="$root/.venv/bin/python"
export REQUIRE_DYNAMODB=1
export DYNAMODB_LOCAL_HOME="$(scripts/dynamodb_local.sh install)"
# Local-server credentials; never look for instance metadata.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

# The test binaries that talk to DynamoDB (they call support::dynamo_endpoint or start servers),
# in the root package and the inspector's, Lambda handler's, benchmarks', observability and postgres members (test names are
# unique across them).
dynamo_tests=()
for file in tests/*.rs inspect/tests/*.rs lambda/tests/*.rs benchmarks/tests/*.rs observability/tests/*.rs postgres/tests/*.rs; do
  if grep -qE 'dynamo_endpoint|LocalServer' "$file"; then
    dynamo_tests+=(--test "$(basename "$file" .rs)")
  fi
done

status=0
run() { # run NAME ENDPOINT cargo-test-arguments...
  local name="$1" endpoint="$2"
  shift 2
  echo "=== $name: DynamoDB tests use $endpoint ==="
  DYNAMO_TEST_SERVER="$name" DYNAMO_TEST_ENDPOINT="$endpoint" \
    cargo test --no-fail-fast "$@" 2>&1 | tee "$logs/$name.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}

run moto "$DYNAMO_TEST_ENDPOINT" --workspace "$@"
run dynamodb-local "$DYNAMODB_LOCAL_ENDPOINT" --workspace "${dynamo_tests[@]}" "$@"

echo
echo "=== Summary ($(( $(date +%s) - started )) s) ==="
for name in moto dynamodb-local; do
  passed=$(grep -hoE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$logs/$name.log" | awk '{s+=$4} END {print s+0}')
  failed=$(grep -hoE '[0-9]+ failed;' "$logs/$name.log" | awk '{s+=$1} END {print s+0}')
  echo "$name: $passed passed, $failed failed"
  grep -E '^    [A-Za-z0-9_:]+$' "$logs/$name.log" | sed "s/^    /  FAILED ($name): /" | sort -u
  grep -E '^error: (test failed|could not compile)|^error: [0-9]+ targets? failed' "$logs/$name.log" | sed "s/^/  /"
done
exit $status
