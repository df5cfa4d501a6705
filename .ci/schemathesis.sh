#!/usr/bin/env bash
# Schemathesis against a real server, on SQLite and on PostgreSQL: every operation of the
# OpenAPI document (/api/v1/openapi.json) is called with generated valid and invalid input,
# and a 5xx or an answer the document does not describe fails the run.
#
#   .ci/schemathesis.sh [sqlite|postgres]...   (both by default)
#
# Builds nothing: it runs target/debug/rapport, which `cargo test` has built. Extra
# schemathesis options can be given in SCHEMATHESIS_ARGS (e.g. "--max-examples 200").
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${CARGO_TARGET_DIR:-$PWD/target}/debug/rapport
[ -x "$bin" ] || { echo "$bin is missing: run cargo build (or cargo test) first" >&2; exit 1; }
pg_base=${RAPPORT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}

# The server gets an SMTP URL where nothing listens, so the email routes (password reset)
# are exercised: their jobs fail later, in the background, as they would with a mail server
# down.
#
# Not exercised:
# - GET /api/v1/realtime/ and GET /widget/ws are websocket upgrades: schemathesis speaks
#   plain HTTP and only ever sees the refusal of a request that is not an upgrade.
# - POST /api/v1/auth/logout/ ends a cookie session; schemathesis authenticates with an
#   API key, so the call only ever answers "not a session" and tests nothing.
# - DELETE /api/v1/api_key/{id}/ would revoke the very key the run authenticates with
#   (schemathesis takes the ids GET /api/v1/api_key/ lists), answering 401 to everything
#   after it; tests/e2e/sessions.rs covers revocation.
exclude=(
  --exclude-path /api/v1/realtime/
  --exclude-path /widget/ws
  --exclude-path /api/v1/auth/logout/
  --exclude-name "DELETE /api/v1/api_key/{id}/"
)

# One object of every kind, so the operations on one object (`…/{id}/…`) reach it: the
# document links a list's first object and a create's answer to them, and schemathesis's
# stateful phase follows those links.
seed() {
  local base=$1 key=$2 lead site token
  post() { curl -sf -u "$key:" -H 'Content-Type: application/json' -X POST "$base/api/v1/$1/" -d "$2"; }
  id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
  lead=$(post lead '{"name": "Seeded", "contacts": [{"name": "Ann", "emails": [{"email": "ann@seed.example"}]}]}' | id)
  post contact "{\"lead_id\": \"$lead\", \"name\": \"Bob\"}" >/dev/null
  post opportunity "{\"lead_id\": \"$lead\", \"value\": 100}" >/dev/null
  for activity in note call email sms meeting; do
    post "activity/$activity" "{\"lead_id\": \"$lead\"}" >/dev/null
  done
  post task "{\"lead_id\": \"$lead\", \"text\": \"Call back\"}" >/dev/null
  for kind in lead contact opportunity; do
    post "custom_field/$kind" '{"name": "Tier", "type": "text"}' >/dev/null
  done
  post saved_search '{"name": "Seeded", "query": "name:Seeded"}' >/dev/null
  post webhook '{"url": "https://hooks.seed.example/x", "events": [{"object_type": "lead", "action": "created"}]}' >/dev/null
  post user '{"email": "member@test.example", "password": "a long password"}' >/dev/null
  # A conversation starts with a visitor's message in the widget.
  site=$(post website '{"name": "Site", "allowed_origins": ["https://site.example"]}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["widget_key"])')
  local widget=(-sf -H "X-Widget-Key: $site" -H 'Origin: https://site.example' -H 'Content-Type: application/json')
  token=$(curl "${widget[@]}" -X POST "$base/widget/v1/session" -d '{}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["visitor_token"])')
  curl "${widget[@]}" -H "Authorization: Bearer $token" -X POST "$base/widget/v1/message" \
    -d '{"client_id": "c1", "body": "Hello"}' >/dev/null
}

run_backend() {
  local backend=$1 tmp db_name="" url out pid base key status
  tmp=$(mktemp -d)
  case $backend in
    sqlite) url="sqlite://$tmp/rapport.db" ;;
    postgres)
      db_name="rapport_schemathesis_$$_$RANDOM"
      psql "$pg_base/postgres" -q -c "CREATE DATABASE $db_name"
      url="$pg_base/$db_name"
      ;;
    *) echo "unknown backend $backend" >&2; return 2 ;;
  esac
  out="$tmp/server.out"
  env -u RAPPORT_CONFIG RAPPORT_LOG=warn "$bin" serve --listen 127.0.0.1:0 --data-dir "$tmp" \
    --database-url "$url" --admin-email admin@test.example \
    --smtp-url "smtp://127.0.0.1:9?security=none&from=crm@test.example" >"$out" 2>"$tmp/server.err" &
  pid=$!
  base="" key=""
  for _ in $(seq 1 300); do
    base=$(sed -n 's/^Listening on //p' "$out" | head -n1)
    [ -n "$base" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  key=$(sed -n 's/^ *API key: //p' "$out" | head -n1 | tr -d '[:space:]')
  if [ -z "$base" ] || [ -z "$key" ]; then
    echo "the server did not start ($backend):" >&2
    cat "$out" "$tmp/server.err" >&2
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  case $base in http*) ;; *) base="http://$base" ;; esac
  echo "schemathesis on $backend against $base"
  set +e
  if ! (seed "$base" "$key"); then
    echo "seeding the server failed ($backend)" >&2
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  # From the temporary directory, where schemathesis and hypothesis leave their caches.
  cd "$tmp"
  # A fixed seed and a bounded number of examples per operation: the same run every time,
  # a few minutes per backend on two cores.
  schemathesis --no-color run "$base/api/v1/openapi.json" \
    --url "$base" \
    --auth "$key:" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" \
    --seed 1 \
    --generation-database none \
    --workers 2 \
    --request-timeout 30 \
    "${exclude[@]}" \
    ${SCHEMATHESIS_ARGS:-}
  status=$?
  set -e
  cd - >/dev/null
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -s "$tmp/server.err" ] && grep -q panicked "$tmp/server.err"; then
    echo "the server panicked ($backend):" >&2
    grep -A3 panicked "$tmp/server.err" >&2
    status=1
  fi
  if [ -n "$db_name" ]; then
    psql "$pg_base/postgres" -q -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" || true
  fi
  rm -rf "$tmp"
  return "$status"
}

backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(sqlite postgres)
failed=0
for backend in "${backends[@]}"; do
  start=$SECONDS
  run_backend "$backend" || failed=1
  echo "schemathesis on $backend: $((SECONDS - start)) s"
done
exit "$failed"
