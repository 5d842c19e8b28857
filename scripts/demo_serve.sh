#!/usr/bin/env bash
# Start fraud-serve on 127.0.0.1 with MODEL, print example requests and answers, then keep
# serving (KEEP_SERVING=1, the default) or stop (KEEP_SERVING=0).
set -euo pipefail
model=${1:?usage: demo_serve.sh MODEL [PORT]}
port=${2:-8000}
bin=${BIN:-.venv/bin}
"$bin/fraud-serve" --model "$model" --host 127.0.0.1 --port "$port" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
"$bin/python" scripts/demo_request.py --url "http://127.0.0.1:$port"
if [ "${KEEP_SERVING:-1}" = "1" ]; then
  echo
  echo "fraudlite is serving on http://127.0.0.1:$port (docs: /docs) - Ctrl-C to stop"
  wait "$pid"
fi
