#!/usr/bin/env bash
# Starts a moto DynamoDB server on a free loopback port in the background.
# Usage: eval "$(scripts/moto.sh start)"   -> exports DYNAMO_TEST_ENDPOINT and MOTO_PID
#        scripts/moto.sh stop "$MOTO_PID"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
  start)
    python="$("$root/scripts/venv.sh")"
    port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    log="${MOTO_LOG:-$root/target/moto-$port.log}"
    mkdir -p "$(dirname "$log")"
    # One request at a time: see scripts/moto_serial.py for why.
    "$python" "$root/scripts/moto_serial.py" 127.0.0.1 "$port" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if "$python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
        echo "export DYNAMO_TEST_ENDPOINT=http://127.0.0.1:$port MOTO_PID=$pid"
        exit 0
      fi
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "moto_server exited; see $log" >&2
        exit 1
      fi
      sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    echo "moto_server did not start on port $port; see $log" >&2
    exit 1
    ;;
  stop)
    kill "${2:?pid}" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start|stop PID" >&2
    exit 2
    ;;
esac
