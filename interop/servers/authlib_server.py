"""An OAuth 2.0 authorization server built on Authlib's Flask integration (PyPI, third-party):
authlib.integrations.flask_oauth2 AuthorizationServer + ResourceProtector, in memory, as the
external server `handshake conformance --profile interop/profiles/authlib.toml` checks.

    python interop/servers/authlib_server.py [--auto-approve] [PORT]

listens on 127.0.0.1:PORT (0, the default, picks a free port) and prints

    authlib-server ready at http://127.0.0.1:PORT

once listening. One client is registered: handshake-client / handshake-secret, redirect URI
http://localhost:3000/callback (exact match), scopes "read write" (default "read"), one
resource owner. What is Authlib's and what is this file's:

* Authlib: the authorization endpoint (RFC 6749 §4.1, redirect URI checked through the
  client, errors redirected or shown per §4.1.2.1), the token endpoint (form bodies,
  client_secret_basic and client_secret_post, invalid_client/invalid_grant, redirect_uri
  compared with the authorization request's, Cache-Control: no-store), PKCE through its
  CodeChallenge extension (S256 and plain; optional for this confidential client, as Authlib
  requires it only of public ones; a verifier for a code issued without a challenge is
  refused), the refresh grant (INCLUDE_NEW_REFRESH_TOKEN: refresh tokens rotate), RFC 7009
  revocation (RevocationEndpoint) and the bearer-protected API (RFC 6750 errors and
  WWW-Authenticate, 403 insufficient_scope).
* This file (the storage Authlib leaves to its user): codes live 60 s and are single-use; a
  reused code revokes what it issued (RFC 6749 §4.1.2 SHOULD); a rotated refresh token is
  refused, and presenting it again revokes the whole grant (RFC 9700 §4.14.2 reuse
  detection); revoking a refresh token revokes the grant's access tokens too (RFC 7009 §2.1).

Two modes: --auto-approve redirects at once; the default shows an HTML consent page (a POST
form with a hidden consent token and Approve / Deny buttons, as in Authlib's example app);
Deny redirects with error=access_denied. Stops on SIGTERM/SIGINT. No code, token, verifier or
secret is ever printed.
"""

import argparse
import hmac
import secrets
import signal
import sys
import threading
import time
from html import escape

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

CLIENT_ID = "handshake-client"
CLIENT_SECRET = "handshake-secret"
REDIRECT_URI = "http://localhost:3000/callback"
SCOPES = ["read", "write"]
DEFAULT_SCOPE = "read"
CODE_LIFETIME_SECS = 60
ACCESS_TOKEN_LIFETIME_SECS = 3600
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
RECORDS = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"},
    {"id": 2, "name": "Alan Turing", "email": "alan@example.com"},
]


class User:
    id = "resource-owner"


USER = User()


class Client(ClientMixin):
    def __init__(self, client_id, client_secret, redirect_uris, scope):
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.scope = scope

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        if not scope:
            return DEFAULT_SCOPE  # RFC 6749 §3.3: a documented default
        allowed = set(scope_to_list(self.scope))
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris  # exact string match (RFC 9700 §4.1.3)

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in AUTH_METHODS  # a confidential client: never "none"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


CLIENTS = {CLIENT_ID: Client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], "read write")}


class AuthorizationCode(AuthorizationCodeMixin):
    def __init__(self, code, client_id, redirect_uri, scope, challenge, method):
        self.code = code
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.code_challenge = challenge
        self.code_challenge_method = method
        self.issued_at = time.time()
        self.used = False

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def is_expired(self):
        return time.time() > self.issued_at + CODE_LIFETIME_SECS


class Token(TokenMixin):
    def __init__(self, client_id, grant, scope, access_token, refresh_token, expires_in):
        self.client_id = client_id
        self.grant = grant  # the code the grant started from: its token family
        self.scope = scope
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.expires_in = expires_in
        self.issued_at = time.time()
        self.access_revoked = False
        self.refresh_revoked = False
        self.rotated = False  # the refresh token was exchanged for a newer one

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self):
        return self.access_revoked

    def get_user(self):
        return USER

    def get_client(self):
        return CLIENTS[self.client_id]


class Store:
    """Everything in memory, behind one lock (the server is threaded)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.codes = {}
        self.tokens = []
        self.consents = {}  # consent token -> the authorization request's query string

    def by_access(self, value):
        return next((t for t in self.tokens if t.access_token == value), None)

    def by_refresh(self, value):
        return next((t for t in self.tokens if t.refresh_token == value), None)

    def revoke_grant(self, grant):
        for t in self.tokens:
            if t.grant == grant:
                t.access_revoked = t.refresh_revoked = True


STORE = Store()


def query_client(client_id):
    return CLIENTS.get(client_id)


def save_token(token, req):
    if req.authorization_code is not None:
        grant = req.authorization_code.code
    elif req.refresh_token is not None:
        grant = req.refresh_token.grant
    else:
        grant = None
    with STORE.lock:
        STORE.tokens.append(
            Token(
                req.client.get_client_id(),
                grant,
                token.get("scope", ""),
                token["access_token"],
                token.get("refresh_token"),
                token["expires_in"],
            )
        )


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code, req):
        data = req.payload.data
        with STORE.lock:
            STORE.codes[code] = AuthorizationCode(
                code,
                req.client.get_client_id(),
                req.payload.redirect_uri,
                req.scope,
                data.get("code_challenge"),
                data.get("code_challenge_method"),
            )

    def query_authorization_code(self, code, client):
        with STORE.lock:
            item = STORE.codes.get(code)
            if item is None or item.client_id != client.get_client_id() or item.is_expired():
                return None
            if item.used:
                # RFC 6749 §4.1.2: refuse, and revoke what the code issued.
                STORE.revoke_grant(item.code)
                return None
            return item

    def delete_authorization_code(self, authorization_code):
        # Kept, marked used, so that a replay is recognised (and revokes the grant).
        with STORE.lock:
            authorization_code.used = True

    def authenticate_user(self, authorization_code):
        return USER


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate

    def authenticate_refresh_token(self, refresh_token):
        with STORE.lock:
            token = STORE.by_refresh(refresh_token)
            if token is None:
                return None
            if token.rotated:
                # RFC 9700 §4.14.2: a rotated refresh token came back; revoke the grant.
                STORE.revoke_grant(token.grant)
                return None
            if token.refresh_revoked:
                return None
            return token

    def authenticate_user(self, refresh_token):
        return USER

    def revoke_old_credential(self, refresh_token):
        with STORE.lock:
            refresh_token.refresh_revoked = True
            refresh_token.rotated = True


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        # RFC 7009 §2.1: the hint speeds up the lookup; the other kind is searched too.
        with STORE.lock:
            if token_type_hint == "refresh_token":
                return STORE.by_refresh(token_string) or STORE.by_access(token_string)
            return STORE.by_access(token_string) or STORE.by_refresh(token_string)

    def revoke_token(self, token, req):
        with STORE.lock:
            if req.form.get("token") == token.refresh_token:
                # RFC 7009 §2.1: revoking a refresh token revokes the grant's access tokens.
                STORE.revoke_grant(token.grant)
            else:
                token.access_revoked = True


class Validator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        with STORE.lock:
            return STORE.by_access(token_string)


app = Flask(__name__)
app.config.update(
    OAUTH2_REFRESH_TOKEN_GENERATOR=True,
    OAUTH2_SCOPES_SUPPORTED=SCOPES,
    OAUTH2_TOKEN_EXPIRES_IN={
        "authorization_code": ACCESS_TOKEN_LIFETIME_SECS,
        "refresh_token": ACCESS_TOKEN_LIFETIME_SECS,
    },
)
server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
server.register_grant(RefreshTokenGrant)
server.register_endpoint(Revocation)
require_oauth = ResourceProtector()
require_oauth.register_token_validator(Validator())

AUTO_APPROVE = False

CONSENT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Authorize {client}</title></head>
<body>
  <h1>Authorize {client}</h1>
  <p>{client} asks for access to your records: <strong>{scope}</strong>.</p>
  <form action="" method="post">
    <input type="hidden" name="consent_token" value="{consent}">
    <input type="submit" name="confirm" value="Approve">
    <input type="submit" name="deny" value="Deny">
  </form>
</body>
</html>
"""


def error_page(error):
    # Errors Authlib can redirect (it has checked the redirect URI) go back to the client;
    # the others (unknown client, unregistered redirect URI) stay here, as RFC 6749 §4.1.2.1 says.
    return server.handle_error_response(None, error)


@app.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    try:
        grant = server.get_consent_grant(end_user=USER)
    except OAuth2Error as error:
        return error_page(error)
    if AUTO_APPROVE:
        return server.create_authorization_response(grant_user=USER, grant=grant)
    query = request.query_string.decode()
    if request.method == "GET":
        consent = secrets.token_urlsafe(24)
        with STORE.lock:
            STORE.consents[consent] = query
        page = CONSENT_PAGE.format(
            client=escape(grant.client.get_client_id()),
            scope=escape(grant.request.scope or ""),
            consent=consent,
        )
        return page, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    # POST: the consent form, answered for this very request (CSRF: the token is single-use).
    with STORE.lock:
        expected = STORE.consents.pop(request.form.get("consent_token", ""), None)
    if expected is None or expected != query:
        return "consent form expired or forged", 400
    confirmed = "confirm" in request.form and "deny" not in request.form
    return server.create_authorization_response(grant_user=USER if confirmed else None, grant=grant)


@app.route("/oauth/token", methods=["POST"])
def issue_token():
    return server.create_token_response()


@app.route("/oauth/revoke", methods=["POST"])
def revoke_token():
    return server.create_endpoint_response(Revocation.ENDPOINT_NAME)


@app.route("/api/records")
@require_oauth("read")
def records():
    return jsonify({"records": RECORDS, "scope": current_token.get_scope()})


class QuietHandler(WSGIRequestHandler):
    """Logs method, path and status to stderr; never the query (state, challenges)."""

    def log_request(self, code="-", size="-"):
        path = self.path.split("?", 1)[0]
        sys.stderr.write(f"authlib-server: {self.command} {path} {code}\n")


def main():
    global AUTO_APPROVE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auto-approve", action="store_true", help="approve without a consent page")
    parser.add_argument("port", nargs="?", type=int, default=0)
    args = parser.parse_args()
    AUTO_APPROVE = args.auto_approve

    httpd = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=QuietHandler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    print(f"authlib-server ready at http://127.0.0.1:{httpd.server_port}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
