#!/usr/bin/env bash
# Start fraud-serve on 127.0.0.1 with MODEL, print example requests and answers, then keep
# serving (KEEP_SERVING=1, the default) or stop (KEEP_SERVING=0).
set -euo pipefail
model=${1:?usage: demo_serve.sh MODEL [PORT]}
port=${2:-8000}
bin=${BIN:-.venv/bin}
log="$(dirname "$model")/server.log"
"$bin/fraud-serve" --model "$model" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
pid=$!
echo "fraud-serve started on http://127.0.0.1:$port (its JSON request log: $log)"
trap 'kill "$pid" 2>/dev/null || true' EXIT
"$bin/python" scripts/demo_request.py --url "http://127.0.0.1:$port"
if [ "${KEEP_SERVING:-1}" = "1" ]; then
  echo
  echo "fraudlite is serving on http://127.0.0.1:$port (docs: /docs) - Ctrl-C to stop"
  tail -f "$log" &
  wait "$pid"
fi
