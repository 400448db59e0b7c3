#!/usr/bin/env bash
# Interoperability with OAuth software nobody on this project wrote (README: Interoperability):
#   1. simple-oauth2, openid-client, passport-oauth2 (npm), Authlib and requests-oauthlib (PyPI)
#      run the full flow against every mock CRM   (crates/cli/tests/interop.rs)
#   2. our reference client runs the full flow against oauth2-mock-server (npm)
#      (crates/client/tests/interop_oauth2_mock_server.rs)
#   3. our conformance runner, in provider mode, against oauth2-mock-server
#   4. our conformance runner, in provider mode, against Authlib's AuthorizationServer (Flask,
#      interop/servers/authlib_server.py): once auto-approving, once through its consent page
#   5. our conformance runner, in provider mode, against node-oidc-provider (npm,
#      interop/servers/oidc-provider.mjs) through its own development login and consent pages
# Run `bash interop/setup.sh` first. Ends with INTEROP: PASSED, FAILED (exit 1) or SKIPPED.
set -uo pipefail
cd "$(dirname "$0")/.."

node_ok=false; py_ok=false
[ -f interop/node_modules/oauth2-mock-server/package.json ] && [ -f interop/node_modules/oidc-provider/package.json ] \
  && command -v node >/dev/null && node_ok=true
[ -x interop/.venv/bin/python ] \
  && interop/.venv/bin/python -c 'import authlib, requests, requests_oauthlib, oauthlib, flask' 2>/dev/null \
  && py_ok=true

if ! $node_ok && ! $py_ok; then
  echo "!!! INTEROP: SKIPPED — no third-party packages installed (run: bash interop/setup.sh)" >&2
  exit 0
fi
# With everything installed, a test that cannot find its package is a failure, not a skip.
if $node_ok && $py_ok; then export HANDSHAKE_INTEROP_REQUIRED=1; fi
$node_ok || echo "!!! WARNING: npm packages missing: the simple-oauth2, openid-client, passport-oauth2, oauth2-mock-server and oidc-provider parts SKIPPED" >&2
$py_ok || echo "!!! WARNING: Python venv or its packages missing: the Authlib and requests-oauthlib clients and the Authlib server parts SKIPPED" >&2

# Servers started below are stopped however the script ends.
pids=(); tmpfiles=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "${tmpfiles[@]}"
}
trap cleanup EXIT

# Provider mode runs as a user's installed binary would: from an empty directory, with
# nothing of this checkout but the files named on its command line.
root=$(pwd)
cargo build -q -p handshake
empty=$(mktemp -d); tmpfiles+=("$empty")
conformance() { (cd "$empty" && "${CARGO_TARGET_DIR:-$root/target}/debug/handshake" conformance "$@"); }

# start_server NAME CMD...: starts CMD in the background, logging to $server_log, and waits up
# to 10 s for its "NAME ready at URL" line; sets $server_pid, and $base (empty if it never came).
start_server() {
  local name=$1; shift
  server_log=$(mktemp); tmpfiles+=("$server_log")
  "$@" >"$server_log" 2>&1 &
  server_pid=$!; pids+=("$server_pid")
  base=""
  for _ in $(seq 100); do
    base=$(sed -n "s/^$name ready at //p" "$server_log")
    [ -n "$base" ] && return
    sleep 0.1
  done
  cat "$server_log" >&2
}

failed=()
echo "== interop 1: third-party clients against every mock CRM"
cargo test -q -p handshake --test interop || failed+=("third-party clients vs mocks")

if $node_ok; then
  echo "== interop 2: reference client against oauth2-mock-server"
  cargo test -q -p handshake-client --test interop_oauth2_mock_server \
    || failed+=("reference client vs oauth2-mock-server")

  echo "== interop 3: conformance runner (provider mode) against oauth2-mock-server"
  start_server oauth2-mock-server node interop/servers/oauth2-mock-server.mjs
  if [ -z "$base" ]; then
    failed+=("oauth2-mock-server did not start")
  else
    mkdir -p target/reports
    conformance \
      --profile "$root/interop/profiles/oauth2-mock-server.toml" --base-url "$base" \
      --expected-failures "$root/interop/oauth2-mock-server.expected-failures.toml" \
      --format json --output "$root/target/reports/interop-oauth2-mock-server.json" \
      || failed+=("conformance runner vs oauth2-mock-server")
  fi
fi

if $py_ok; then
  for mode in auto-approve consent; do
    echo "== interop 4 ($mode): conformance runner (provider mode) against Authlib AuthorizationServer"
    flags=(); [ "$mode" = auto-approve ] && flags=(--auto-approve)
    start_server authlib-server interop/.venv/bin/python interop/servers/authlib_server.py "${flags[@]}" 0
    if [ -z "$base" ]; then
      failed+=("Authlib AuthorizationServer ($mode) did not start")
    else
      mkdir -p target/reports
      # The server logs method, path and status only (never a query, code or token).
      conformance \
        --profile "$root/interop/profiles/authlib.toml" --base-url "$base" \
        --format json --output "$root/target/reports/interop-authlib-$mode.json" \
        || { tail -n 40 "$server_log" >&2; failed+=("conformance runner vs Authlib AuthorizationServer ($mode)"); }
    fi
    kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null
  done
fi

if $node_ok; then
  echo "== interop 5: conformance runner (provider mode) against node-oidc-provider"
  start_server oidc-provider node interop/servers/oidc-provider.mjs 0
  if [ -z "$base" ]; then
    failed+=("oidc-provider did not start")
  else
    mkdir -p target/reports
    # The runner's browser signs in on its development login page with the profile's
    # [browser] form_fields (any login, any non-empty password) and continues on its consent
    # page. No expected-failures file: it deviates from none of the scenarios that apply.
    conformance \
      --profile "$root/interop/profiles/oidc-provider.toml" --base-url "$base" \
      --format json --output "$root/target/reports/interop-oidc-provider.json" \
      || { tail -n 40 "$server_log" >&2; failed+=("conformance runner vs oidc-provider"); }
  fi
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null
fi

if [ ${#failed[@]} -eq 0 ]; then
  echo "INTEROP: PASSED"
else
  printf 'INTEROP: FAILED — %s\n' "${failed[@]}" >&2
  exit 1
fi
