#!/usr/bin/env bash
# Runs the bot on its embedded defaults (SQLite under ./data, no Redis, no WeChat account needed).
#   scripts/run.sh            → python -m bot serve (simulator at http://127.0.0.1:8080/)
#   scripts/run.sh 9000       → the same on port 9000 (links sent to guardians follow the port)
#   scripts/run.sh chat       → talk to the bot in this terminal
#   scripts/run.sh ARGS...    → python -m bot ARGS...
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
if [ $# -eq 0 ]; then set -- serve; fi
if [[ "$1" =~ ^[0-9]+$ ]]; then set -- serve --port "$@"; fi
exec .venv/bin/python -m bot "$@"
