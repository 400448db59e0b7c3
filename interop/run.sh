#!/usr/bin/env bash
# Interoperability with OAuth software nobody on this project wrote (README: Interoperability):
#   1. simple-oauth2, openid-client (npm) and Authlib (PyPI) run the full flow against every
#      mock CRM   (crates/cli/tests/interop.rs)
#   2. our reference client runs the full flow against oauth2-mock-server (npm)
#      (crates/client/tests/interop_oauth2_mock_server.rs)
#   3. our conformance runner, in provider mode, against oauth2-mock-server
# Run `bash interop/setup.sh` first. Ends with INTEROP: PASSED, FAILED (exit 1) or SKIPPED.
set -uo pipefail
cd "$(dirname "$0")/.."

node_ok=false; py_ok=false
[ -f interop/node_modules/oauth2-mock-server/package.json ] && command -v node >/dev/null && node_ok=true
[ -x interop/.venv/bin/python ] && interop/.venv/bin/python -c 'import authlib, requests' 2>/dev/null && py_ok=true

if ! $node_ok && ! $py_ok; then
  echo "!!! INTEROP: SKIPPED — no third-party packages installed (run: bash interop/setup.sh)" >&2
  exit 0
fi
# With everything installed, a test that cannot find its package is a failure, not a skip.
if $node_ok && $py_ok; then export HANDSHAKE_INTEROP_REQUIRED=1; fi
$node_ok || echo "!!! WARNING: npm packages missing: simple-oauth2, openid-client and oauth2-mock-server parts SKIPPED" >&2
$py_ok || echo "!!! WARNING: Python venv missing: the Authlib part SKIPPED" >&2

failed=()
echo "== interop 1: third-party clients against every mock CRM"
cargo test -q -p handshake --test interop || failed+=("third-party clients vs mocks")

if $node_ok; then
  echo "== interop 2: reference client against oauth2-mock-server"
  cargo test -q -p handshake-client --test interop_oauth2_mock_server \
    || failed+=("reference client vs oauth2-mock-server")

  echo "== interop 3: conformance runner (provider mode) against oauth2-mock-server"
  log=$(mktemp)
  node interop/servers/oauth2-mock-server.mjs >"$log" 2>&1 &
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null; rm -f "$log"' EXIT
  base=""
  for _ in $(seq 100); do
    base=$(sed -n 's/^oauth2-mock-server ready at //p' "$log")
    [ -n "$base" ] && break
    sleep 0.1
  done
  if [ -z "$base" ]; then
    cat "$log" >&2
    failed+=("oauth2-mock-server did not start")
  else
    mkdir -p target/reports
    cargo xtask conformance \
      --profile interop/profiles/oauth2-mock-server.toml --base-url "$base" \
      --expected-failures interop/oauth2-mock-server.expected-failures.toml \
      --format json --output target/reports/interop-oauth2-mock-server.json \
      || failed+=("conformance runner vs oauth2-mock-server")
  fi
fi

if [ ${#failed[@]} -eq 0 ]; then
  echo "INTEROP: PASSED"
else
  printf 'INTEROP: FAILED — %s\n' "${failed[@]}" >&2
  exit 1
fi
