#!/usr/bin/env bash
# The API as an SDK sees it (issue 15), run by CTest as sdk_typescript_client:
#   1. docs/openapi.json validates against the OpenAPI 3 schema (and a broken copy does not);
#   2. openapi-typescript generates a TypeScript client from it;
#   3. client_example.ts, which submits a job by URL with an Idempotency-Key and waits for
#      its signed webhook, type-checks against that client under `strict` (and
#      type_error_example.ts, which misuses it, does not);
#   4. the compiled example runs against the real sonic-server.
# Usage: run.sh <build dir>; SONIC_BINARY and SONIC_FIXTURES as for the other tests.
# Packages: the pinned versions of package-lock.json (npm ci); node_modules stays untracked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${SONIC_BINARY:?}
fixtures=${SONIC_FIXTURES:?}
mkdir -p "$1"
out="$(cd "$1" && pwd)/sdk"

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
rm -rf "$out"
mkdir -p "$out"
ln -s "$here/node_modules" "$out/node_modules"
echo '{"type": "module"}' > "$out/package.json"

echo "== 1. validate"
node validate.mjs "$root/docs/openapi.json"
node -e '
  const api = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  api.paths["/api/jobs/{id}/webhooks"].get.responses["200"].content["application/json"].schema.$ref = "#/components/schemas/Nowhere";
  require("fs").writeFileSync(process.argv[2], JSON.stringify(api));' "$root/docs/openapi.json" "$out/broken.json"
if node validate.mjs "$out/broken.json" 2>/dev/null; then
  echo "FAIL: a document with a dangling \$ref validated" >&2
  exit 1
fi

echo "== 2. generate"
./node_modules/.bin/openapi-typescript "$root/docs/openapi.json" -o "$out/api.d.ts"

echo "== 3. type-check"
cp client_example.ts type_error_example.ts tsconfig.json "$out/"
./node_modules/.bin/tsc -p "$out"
if ./node_modules/.bin/tsc --strict --module NodeNext --moduleResolution NodeNext --target ES2022 --types node \
     --noEmit "$out/type_error_example.ts" > "$out/type_errors.txt"; then
  echo "FAIL: a program misusing the client type-checked" >&2
  exit 1
fi
grep -c "error TS" "$out/type_errors.txt" | xargs echo "type errors found, as expected:"

echo "== 4. run against sonic-server"
data=$(mktemp -d)
secret="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
echo "$secret" > "$data/secret"
"$binary" serve --host 127.0.0.1 --port 0 --port-file "$data/port" --data-dir "$data/d" --log-level warn \
  --url-allow 127.0.0.1 --url-allow-http --webhook-secret-file "$data/secret" 2> "$data/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 600); do
  [[ -s "$data/port" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
  sleep 0.1
done
[[ -s "$data/port" ]] || { echo "FAIL: the server did not start" >&2; exit 1; }
if ! node "$out/dist/client_example.js" "http://127.0.0.1:$(cat "$data/port")" "$secret" \
     "$fixtures/portrait.png" "$fixtures/speech_en_5s.wav"; then
  tail -20 "$data/server.log" >&2
  exit 1
fi
