"""The whole authorization-code flow with requests-oauthlib's OAuth2Session (PyPI, third-party,
on oauthlib's WebApplicationClient) against a handshake mock, configured only by the .env lines
`handshake serve <crm>` prints (read from the environment). The script is the browser too: it
GETs the authorization URL with redirects off and hands the Location header to the library.

requests-oauthlib runs with its defaults: RFC 6749 form bodies, HTTP Basic client
authentication unless OAUTH_TOKEN_AUTH_METHOD=client_secret_post (then include_client_id=True and
the secret in the body, as its docs say), PKCE through OAuth2Session(pkce="S256") where
OAUTH_PKCE_METHOD says so. It has no RFC 7009 revocation call, so revocation is a plain requests
POST with a form body and the same client authentication.

Exit 0 and a last line `ok` when every step behaved as RFC 6749/6750/7009/7636 say; exit 1 with
the failing step otherwise. No token, code, verifier or secret is printed.
"""

import os
import secrets
import sys

# oauthlib refuses http:// endpoints unless told otherwise; every URL here is loopback.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

import requests  # noqa: E402
from oauthlib.oauth2.rfc6749.errors import OAuth2Error  # noqa: E402
from requests.auth import HTTPBasicAuth  # noqa: E402
from requests_oauthlib import OAuth2Session  # noqa: E402


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
    client_id = env("OAUTH_CLIENT_ID")
    client_secret = env("OAUTH_CLIENT_SECRET")
    token_url = env("OAUTH_TOKEN_URL")
    revoke_url = os.environ.get("OAUTH_REVOKE_URL", "")
    redirect_uri = env("OAUTH_REDIRECT_URI")
    api_url = env("CRM_API_URL")
    pkce = env("OAUTH_PKCE_METHOD")
    auth_method = env("OAUTH_TOKEN_AUTH_METHOD")
    scope = env("OAUTH_SCOPES").strip('"').split()

    # How the client authenticates, as requests-oauthlib's docs say for each method.
    if auth_method == "client_secret_post":
        exchange_auth = {"include_client_id": True, "client_secret": client_secret}
        refresh_auth = {"client_id": client_id, "client_secret": client_secret}
    elif auth_method == "client_secret_basic":
        # fetch_token's default: HTTPBasicAuth(client_id, client_secret).
        exchange_auth = {"client_secret": client_secret}
        refresh_auth = {"auth": HTTPBasicAuth(client_id, client_secret)}
    else:
        print(f"unsupported: OAUTH_TOKEN_AUTH_METHOD={auth_method}")
        sys.exit(3)

    browser = requests.Session()
    browser.trust_env = False  # loopback only: ignore any proxy settings

    def new_session():
        s = OAuth2Session(
            client_id,
            scope=scope,
            redirect_uri=redirect_uri,
            pkce="S256" if pkce == "S256" else None,
        )
        s.trust_env = False
        # Agile CRM answers XML unless asked for JSON; every CRM accepts the header.
        s.headers["Accept"] = "application/json"
        return s

    def authorize(session):
        """The library builds the URL; the script plays the browser and keeps the redirect."""
        url, state = session.authorization_url(env("OAUTH_AUTHORIZE_URL"))
        check(len(state) >= 16 and f"state={state}" in url, "authorization URL carries a strong state")
        if pkce == "S256":
            check("code_challenge_method=S256" in url, "authorization URL carries an S256 challenge")
        resp = browser.get(url, allow_redirects=False)
        check(300 <= resp.status_code < 400, f"authorize answered {resp.status_code}, not a redirect")
        callback = resp.headers["Location"]
        check(callback.startswith(redirect_uri), "redirected to the registered redirect_uri")
        check("code=" in callback, "the redirect carries a code")
        return callback, state

    step("authorize")
    session = new_session()
    callback, state = authorize(session)

    step("forged state refused")
    forged = callback.replace(f"state={state}", f"state={secrets.token_urlsafe(16)}")
    try:
        session.fetch_token(token_url, authorization_response=forged, **exchange_auth)
        raise CheckFailed("requests-oauthlib accepted a forged state")
    except CheckFailed:
        raise
    except OAuth2Error as e:  # oauthlib MismatchingStateError
        check(e.error == "mismatching_state", f"refused for state ({type(e).__name__})")

    step("exchange")
    token = session.fetch_token(token_url, authorization_response=callback, **exchange_auth)
    check(token.get("access_token") and token.get("refresh_token"), "access and refresh tokens issued")
    check(token.get("token_type", "").lower() == "bearer", "token_type is Bearer")
    check(isinstance(token.get("expires_in"), int) and token.get("expires_at"), "expires_in understood")

    step("replayed code refused")
    try:
        session.fetch_token(token_url, authorization_response=callback, **exchange_auth)
        raise CheckFailed("a replayed code was accepted (RFC 6749 §4.1.2)")
    except CheckFailed:
        raise
    except OAuth2Error as e:  # oauthlib InvalidGrantError
        check(e.error == "invalid_grant", f"replayed code refused with invalid_grant ({type(e).__name__}: {e.error})")

    # The replay revoked what the code issued (RFC 6749 §4.1.2 SHOULD): start over.
    step("second authorize + exchange")
    session = new_session()
    callback, state = authorize(session)
    token = session.fetch_token(token_url, authorization_response=callback, **exchange_auth)
    check(token.get("access_token") and token.get("refresh_token"), "access and refresh tokens issued")

    step("api call")
    resp = session.get(api_url)
    check(resp.status_code == 200, f"API answered {resp.status_code}")

    step("refresh")
    old = token["access_token"]
    token = session.refresh_token(token_url, **refresh_auth)
    check(token["access_token"] != old, "refresh issued a new access token")
    resp = session.get(api_url)
    check(resp.status_code == 200, f"API answered {resp.status_code} to the refreshed token")

    if revoke_url:
        step("revoke")
        access, refresh = token["access_token"], token["refresh_token"]

        def revoke(value, hint):
            """RFC 7009 §2.1: a form body, the client authenticated as at the token endpoint."""
            data = {"token": value, "token_type_hint": hint}
            auth = None
            if auth_method == "client_secret_post":
                data.update(client_id=client_id, client_secret=client_secret)
            else:
                auth = HTTPBasicAuth(client_id, client_secret)
            return browser.post(revoke_url, data=data, auth=auth, headers={"Accept": "application/json"})

        r = revoke(refresh, "refresh_token")
        check(r.status_code == 200, f"revocation of the refresh token answered {r.status_code}")
        r = revoke(access, "access_token")
        check(r.status_code == 200, f"revocation of the access token answered {r.status_code}")
        resp = session.get(api_url)
        check(resp.status_code == 401, f"API answered {resp.status_code} to a revoked token, want 401")
        check(resp.headers.get("WWW-Authenticate", "").startswith("Bearer"), "401 carries WWW-Authenticate: Bearer")
        try:
            session.refresh_token(token_url, refresh_token=refresh, **refresh_auth)
            raise CheckFailed("a revoked refresh token was accepted")
        except CheckFailed:
            raise
        except OAuth2Error as e:
            check(e.error == "invalid_grant", f"revoked refresh token refused with invalid_grant ({type(e).__name__}: {e.error})")
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
