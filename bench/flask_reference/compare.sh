#!/bin/bash
# Side-by-side status-request figures: the Flask reference (app.py, NOT part of the product)
# under gunicorn with 4 sync workers, measured by the same clients as sonic-server.
#   bench/flask_reference/compare.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build/release}"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data="$(mktemp -d)"
FLASK_REF_DATA="$data" /usr/bin/python3 -m gunicorn --chdir "$here" -w 4 -b "127.0.0.1:$port" --log-level warning app:app &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
fixtures="$here/../../../shared/fixtures"
job=$(curl -sf -F image=@"$fixtures/portrait.png" -F audio=@"$fixtures/speech_en_5s.wav" \
  "http://127.0.0.1:$port/api/sonic/generate" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
echo "== Flask reference under gunicorn (4 sync workers), port $port"
"$build/bench/server_load_bench" --port "$port" --job-id "$job" --seconds "${SECONDS_PER_FIGURE:-5}"
echo "== attacks against the Flask reference"
"$build/bench/http_attack_bench" --port "$port" --pid "$pid" --seconds 20
