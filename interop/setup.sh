#!/usr/bin/env bash
# Installs the third-party OAuth software the interop tests run (pinned: package-lock.json,
# requirements.txt) into interop/node_modules and interop/.venv (both git-ignored).
# Never fails: a missing tool or an unreachable registry is a loud SKIPPED warning, and
# interop/run.sh then skips what is missing.
set -uo pipefail
cd "$(dirname "$0")"

warn() { echo "!!! WARNING: $*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  warn "node/npm not found: the npm interop tests (simple-oauth2, openid-client, passport-oauth2, oauth2-mock-server, oidc-provider) will be SKIPPED"
elif ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  warn "node $(node --version) < 20.19: the npm interop tests will be SKIPPED"
elif npm ci --no-audit --no-fund --loglevel=error >/tmp/handshake-interop-npm.log 2>&1; then
  echo "interop: npm packages installed ($(node -p 'Object.entries(require("./package.json").dependencies).map(([k,v])=>k+"@"+v).join(", ")'))"
else
  rm -rf node_modules
  warn "npm ci failed (see /tmp/handshake-interop-npm.log): the npm interop tests will be SKIPPED"
fi

if ! command -v python3 >/dev/null 2>&1; then
  warn "python3 not found: the Python interop tests (Authlib and requests-oauthlib clients, Authlib server) will be SKIPPED"
elif { [ -x .venv/bin/python ] || python3 -m venv .venv; } >/tmp/handshake-interop-pip.log 2>&1 \
  && .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt >>/tmp/handshake-interop-pip.log 2>&1; then
  echo "interop: PyPI packages installed ($(grep -i '^authlib==\|^requests==\|^requests-oauthlib==\|^oauthlib==\|^flask==' requirements.txt | tr '\n' ' '))"
else
  rm -rf .venv
  warn "pip install failed (see /tmp/handshake-interop-pip.log): the Python interop tests (Authlib and requests-oauthlib clients, Authlib server) will be SKIPPED"
fi
exit 0
