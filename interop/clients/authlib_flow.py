"""The whole authorization-code flow with Authlib's requests OAuth2Session (PyPI, third-party)
against a handshake mock, configured only by the .env lines `handshake serve <crm>` prints (read
from the environment). The script is the browser too: it GETs the authorization URL with
redirects off and hands the Location header to Authlib.

Authlib runs with its defaults: RFC 6749 form bodies on the token and revocation endpoints,
client_secret_basic or client_secret_post as OAUTH_TOKEN_AUTH_METHOD says, PKCE S256 where
OAUTH_PKCE_METHOD says so. No extension point, no re-encoding: every mock accepts form bodies.

Exit 0 and a last line `ok` when every step behaved as RFC 6749/6750/7009/7636 say; exit 1 with
the failing step otherwise. No token, code, verifier or secret is printed.
"""

import os
import secrets
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.security import generate_token


def env(name):
    value = os.environ.get(name, "")
    if not value:
        print(f"FAIL setup: {name} is not set (pass the .env lines of `handshake serve`)")
        sys.exit(2)
    return value


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


STEP = "setup"


def step(name):
    global STEP
    STEP = name
    print(f"step: {name}", flush=True)


def main():
    token_url = env("OAUTH_TOKEN_URL")
    revoke_url = os.environ.get("OAUTH_REVOKE_URL", "")
    redirect_uri = env("OAUTH_REDIRECT_URI")
    api_url = env("CRM_API_URL")
    pkce = env("OAUTH_PKCE_METHOD")
    auth_method = env("OAUTH_TOKEN_AUTH_METHOD")

    session = OAuth2Session(
        env("OAUTH_CLIENT_ID"),
        env("OAUTH_CLIENT_SECRET"),
        scope=env("OAUTH_SCOPES").strip('"'),
        redirect_uri=redirect_uri,
        token_endpoint_auth_method=auth_method,
        revocation_endpoint_auth_method=auth_method,
        code_challenge_method="S256" if pkce == "S256" else None,
    )
    session.trust_env = False  # loopback only: ignore any proxy settings
    # Agile CRM answers XML unless asked for JSON; every CRM accepts the header.
    session.headers["Accept"] = "application/json"

    browser = requests.Session()
    browser.trust_env = False

    def authorize():
        """Authlib builds the URL; the script plays the browser and keeps the redirect."""
        verifier = generate_token(64)
        extra = {"code_verifier": verifier} if pkce == "S256" else {}
        url, state = session.create_authorization_url(env("OAUTH_AUTHORIZE_URL"), **extra)
        check("state=" in url, "authorization URL carries state")
        if pkce == "S256":
            check("code_challenge_method=S256" in url, "authorization URL carries an S256 challenge")
        resp = browser.get(url, allow_redirects=False)
        check(300 <= resp.status_code < 400, f"authorize answered {resp.status_code}, not a redirect")
        callback = resp.headers["Location"]
        check(callback.startswith(redirect_uri), "redirected to the registered redirect_uri")
        check("code=" in callback, "the redirect carries a code")
        return callback, state, extra

    step("authorize")
    callback, state, extra = authorize()

    step("forged state refused")
    forged = callback.replace(f"state={state}", f"state={secrets.token_urlsafe(16)}")
    try:
        session.fetch_token(token_url, authorization_response=forged, state=state, **extra)
        raise CheckFailed("Authlib accepted a forged state")
    except CheckFailed:
        raise
    except Exception as e:  # authlib MismatchingStateException
        check("state" in type(e).__name__.lower() or "state" in str(e).lower(), f"refused for state ({type(e).__name__})")

    step("exchange")
    token = session.fetch_token(token_url, authorization_response=callback, state=state, **extra)
    check(token.get("access_token") and token.get("refresh_token"), "access and refresh tokens issued")
    check(token.get("token_type", "").lower() == "bearer", "token_type is Bearer")
    check(not token.is_expired(), "expires_in understood")

    step("replayed code refused")
    try:
        session.fetch_token(token_url, authorization_response=callback, state=state, **extra)
        raise CheckFailed("a replayed code was accepted (RFC 6749 §4.1.2)")
    except CheckFailed:
        raise
    except Exception as e:  # authlib OAuthError
        check(getattr(e, "error", None) == "invalid_grant", f"replayed code refused with invalid_grant ({type(e).__name__}: {getattr(e, 'error', '')})")

    # The replay revoked what the code issued (RFC 6749 §4.1.2 SHOULD): start over.
    step("second authorize + exchange")
    callback, state, extra = authorize()
    token = session.fetch_token(token_url, authorization_response=callback, state=state, **extra)
    check(token.get("access_token") and token.get("refresh_token"), "access and refresh tokens issued")

    step("api call")
    resp = session.get(api_url)
    check(resp.status_code == 200, f"API answered {resp.status_code}")

    step("refresh")
    old = token["access_token"]
    token = session.refresh_token(token_url)
    check(token["access_token"] != old, "refresh issued a new access token")
    resp = session.get(api_url)
    check(resp.status_code == 200, f"API answered {resp.status_code} to the refreshed token")

    if revoke_url:
        step("revoke")
        access, refresh = token["access_token"], token["refresh_token"]
        r = session.revoke_token(revoke_url, token=refresh, token_type_hint="refresh_token")
        check(r.status_code == 200, f"revocation of the refresh token answered {r.status_code}")
        r = session.revoke_token(revoke_url, token=access, token_type_hint="access_token")
        check(r.status_code == 200, f"revocation of the access token answered {r.status_code}")
        resp = browser.get(api_url, headers={"Authorization": f"Bearer {access}", "Accept": "application/json"})
        check(resp.status_code == 401, f"API answered {resp.status_code} to a revoked token, want 401")
        check(resp.headers.get("WWW-Authenticate", "").startswith("Bearer"), "401 carries WWW-Authenticate: Bearer")
        try:
            session.refresh_token(token_url, refresh_token=refresh)
            raise CheckFailed("a revoked refresh token was accepted")
        except CheckFailed:
            raise
        except Exception as e:  # authlib OAuthError
            check(getattr(e, "error", None) == "invalid_grant", f"revoked refresh token refused with invalid_grant ({e!r})")
    print("ok")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        print(f"FAIL {STEP}: {e}")
        sys.exit(1)
    except Exception as e:  # a library error: its type and OAuth error, never the request
        print(f"FAIL {STEP}: {type(e).__name__}: {getattr(e, 'error', '')} {getattr(e, 'description', '') or ''}".rstrip())
        sys.exit(1)
