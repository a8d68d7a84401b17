#!/usr/bin/env bash
# Runs the whole test suite. Installs what it needs: the venv, a Redis server when none answers on
# 127.0.0.1:6379 (tests use database 13 with their own key prefixes), a PostgreSQL server when none
# answers on 127.0.0.1:5432 (tests use schemas of their own, dropped afterwards), and Debian's chromium for the
# browser tests (Playwright drives it through executablePath; no browser download).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

redis_up() { .venv/bin/python - <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", 6379), timeout=1); s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_ready=0
apt_install() {
  if [ $apt_ready = 0 ]; then as_root apt-get update -qq || true; apt_ready=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server || echo "无法安装 redis-server" >&2
  if command -v redis-server >/dev/null; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/bot-test-redis.log
    for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
  fi
fi
pg_up() { .venv/bin/python - <<'PY'
import asyncio, sys
import asyncpg
async def main():
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=2)
    await conn.close()
try:
    asyncio.run(main())
except Exception:
    sys.exit(1)
PY
}
if ! pg_up; then
  # Debian's cluster tools when present (the machine's own cluster), else a throwaway cluster in /tmp.
  command -v pg_ctlcluster >/dev/null || apt_install postgresql || echo "无法安装 postgresql" >&2
  if command -v pg_lsclusters >/dev/null && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
    pg_lsclusters -h | while read -r version cluster _rest; do as_root pg_ctlcluster "$version" "$cluster" start || true; done
  elif bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1) && [ -n "$bin" ]; then
    data=/tmp/bot-test-pg; owner=$([ "$(id -u)" = 0 ] && echo postgres || id -un)
    if [ ! -d $data ]; then
      install -d -o "$owner" $data
      as_root su "$owner" -s /bin/sh -c "$bin/initdb -D $data -U postgres --auth=trust -E UTF8" >/dev/null \
        || "$bin/initdb" -D $data -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    run_pg="$bin/pg_ctl -D $data -l /tmp/bot-test-pg.log -o '-h 127.0.0.1 -p 5432 -k /tmp' start"
    if [ "$(id -u)" = 0 ]; then su "$owner" -s /bin/sh -c "$run_pg" >/dev/null; else sh -c "$run_pg" >/dev/null; fi
  fi
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
fi
if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium || echo "无法安装 chromium：浏览器测试将被跳过（CI 中会失败）" >&2
fi

exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
