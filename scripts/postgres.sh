#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on a free loopback port, its cluster in target/.
# Installs Debian's postgresql package with apt-get when initdb/postgres are not there.
# Usage: eval "$(scripts/postgres.sh start)"   -> exports POSTGRES_TEST_URL and POSTGRES_PID
#        scripts/postgres.sh stop "$POSTGRES_PID"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bindir() { # the newest installed server's binaries, else whatever is on PATH
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
    echo "$dir"
  elif command -v initdb >/dev/null && command -v postgres >/dev/null; then
    dirname "$(command -v initdb)"
  fi
}

install() {
  if [ -n "$(bindir)" ]; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL is not installed and this is not root: apt-get install postgresql" >&2
    exit 1
  fi
  echo "installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # The package's own cluster is not used; keep it from being created or started.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/no-main.conf
  apt-get install -y -qq postgresql >&2
  [ -n "$(bindir)" ] || { echo "postgresql installed, but no initdb found" >&2; exit 1; }
}

case "${1:-}" in
  start)
    install
    bin="$(bindir)"
    python="$(command -v python3 || "$root/scripts/venv.sh")"
    port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    data="$root/target/postgres-$port"
    log="$root/target/postgres-$port.log"
    rm -rf "$data"
    mkdir -p "$data"
    # initdb and postgres refuse to run as root: run them as the package's system user.
    as=()
    if [ "$(id -u)" -eq 0 ]; then
      id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
      chown postgres "$data"
      touch "$log" && chown postgres "$log"
      as=(setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups --)
    fi
    "${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-sync >"$log" 2>&1 \
      || { echo "initdb failed; see $log" >&2; exit 1; }
    # Loopback TCP only, the socket in the cluster's folder, no durability (a test server).
    "${as[@]}" "$bin/postgres" -D "$data" -p "$port" -h 127.0.0.1 -k "$data" \
      -c fsync=off -c synchronous_commit=off -c full_page_writes=off >>"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
        echo "export POSTGRES_TEST_URL=postgres://postgres@127.0.0.1:$port/postgres POSTGRES_PID=$pid"
        exit 0
      fi
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "postgres exited; see $log" >&2
        exit 1
      fi
      sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    echo "postgres did not start on port $port; see $log" >&2
    exit 1
    ;;
  stop)
    # SIGINT: PostgreSQL's fast shutdown.
    kill -INT "${2:?pid}" 2>/dev/null || true
    ;;
  install)
    install
    ;;
  *)
    echo "usage: $0 start|stop PID|install" >&2
    exit 2
    ;;
esac
