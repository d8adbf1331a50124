#!/usr/bin/env bash
# The test command: installs moto into .venv, starts it on a free loopback port, runs every
# test (in memory and on DynamoDB, examples included) and stops the server.
# Extra arguments go to `cargo test`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
eval "$(scripts/moto.sh start)"
trap 'scripts/moto.sh stop "$MOTO_PID"' EXIT
export PYTHON="$root/.venv/bin/python"
export REQUIRE_DYNAMODB=1
# Local-server credentials; never look for instance metadata.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
echo "moto DynamoDB at $DYNAMO_TEST_ENDPOINT"
cargo test --workspace "$@"
