"""A handshake mock CRM in pytest. Copy this file into your project, with
``pytest_plugins = ["handshake_mock.pytest_plugin"]`` in your top-level conftest.py (or the
package installed: ``pip install path/to/bindings/python``).

The binary is --handshake-bin, else HANDSHAKE_BIN, else ``handshake`` on PATH::

    cargo build -p handshake && HANDSHAKE_BIN=target/debug/handshake pytest bindings/python
"""

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request

import pytest

# No proxy for loopback, and redirects not followed: the test reads the callback's code.
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


http = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def request(url, data=None, headers=None):
    """(status, headers, body text) of a request; HTTP errors are answers, not exceptions."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with http.open(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def authorize(mock):
    """The browser's part, with auto-approve: the authorization endpoint redirects back at once."""
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_hex(16)
    query = urllib.parse.urlencode({
        "response_type": "code",
        "client_id": mock.env["OAUTH_CLIENT_ID"],
        "redirect_uri": mock.env["OAUTH_REDIRECT_URI"],
        "scope": mock.env["OAUTH_SCOPES"],
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    status, headers, _ = request(f"{mock.env['OAUTH_AUTHORIZE_URL']}?{query}")
    assert status == 302
    callback = urllib.parse.parse_qs(urllib.parse.urlsplit(headers["Location"]).query)
    assert callback["state"] == [state]
    return callback["code"][0], verifier


def token_request(mock, params):
    """Your app's part: a token request as RFC 6749 §4.1.3 and Capsule's profile say."""
    basic = base64.b64encode(f"{mock.env['OAUTH_CLIENT_ID']}:{mock.env['OAUTH_CLIENT_SECRET']}".encode()).decode()
    status, _, body = request(mock.env["OAUTH_TOKEN_URL"], params, {"Authorization": f"Basic {basic}"})
    return status, json.loads(body)


def login(mock):
    code, verifier = authorize(mock)
    status, tokens = token_request(mock, {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": mock.env["OAUTH_REDIRECT_URI"],
        "code_verifier": verifier,
    })
    assert status == 200
    return tokens


def api(mock, access_token):
    return request(mock.env["CRM_API_URL"], headers={"Authorization": f"Bearer {access_token}"})[0]


# The fixture starts Capsule with auto-approve and stops it after each test, pass or fail.
def test_a_code_exchange_gets_tokens_that_the_api_accepts(handshake_mock):
    assert handshake_mock.url.startswith("http://127.0.0.1:")
    assert handshake_mock.env["OAUTH_TOKEN_AUTH_METHOD"] == "client_secret_basic"
    tokens = login(handshake_mock)
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["refresh_token"]
    assert api(handshake_mock, tokens["access_token"]) == 200


def test_an_armed_fault_fails_the_next_token_request_only(handshake_mock):
    refresh_token = login(handshake_mock)["refresh_token"]
    handshake_mock.fail_next("token", error="invalid_grant")
    status, body = token_request(handshake_mock, {"grant_type": "refresh_token", "refresh_token": refresh_token})
    assert (status, body["error"]) == (400, "invalid_grant")
    status, _ = token_request(handshake_mock, {"grant_type": "refresh_token", "refresh_token": refresh_token})
    assert status == 200

    refreshes = [e for e in handshake_mock.journal() if e["grant_type"] == "refresh_token"]
    assert [e["status"] for e in refreshes] == [400, 200]
    assert refreshes[0]["error"] == "invalid_grant"
    assert refreshes[0]["client_auth"] == "client_secret_basic"
    # Secrets never reach the journal.
    assert handshake_mock.env["OAUTH_CLIENT_SECRET"] not in json.dumps(refreshes)
    assert refresh_token not in json.dumps(refreshes)


def test_expired_tokens_a_revoked_grant_the_clock_and_a_429(handshake_mock):
    tokens = login(handshake_mock)
    handshake_mock.expire_tokens()
    assert api(handshake_mock, tokens["access_token"]) == 401

    handshake_mock.rate_limit_next(retry_after_secs=30)
    _, fresh = token_request(handshake_mock, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert api(handshake_mock, fresh["access_token"]) == 429
    handshake_mock.clear_faults()
    assert api(handshake_mock, fresh["access_token"]) == 200

    assert handshake_mock.advance_clock(120) == {"offset_secs": 120}

    handshake_mock.revoke_grant()
    assert api(handshake_mock, fresh["access_token"]) == 401


@pytest.mark.handshake("connectwise", redirect_uri="http://localhost:5173/cb")
def test_the_marker_picks_the_provider_and_options(handshake_mock):
    assert handshake_mock.provider == "connectwise"
    assert handshake_mock.env["OAUTH_REDIRECT_URI"] == "http://localhost:5173/cb"
    assert handshake_mock.env["OAUTH_PKCE_METHOD"] == "S256"
