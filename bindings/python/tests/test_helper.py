"""The helper itself: every provider's .env values drive a flow, the context manager stops the
mock when the body raises, startup failures say why, and the line parsers."""

import base64
import hashlib
import os
import secrets
import stat
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from handshake_mock import (
    ControlError,
    MockStartError,
    parse_env_line,
    parse_json_ready_line,
    start_mock,
)

PROVIDERS = ["capsule", "connectwise", "agilecrm", "redtail", "insightly"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


http = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def send(url, data=None, headers=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with http.open(urllib.request.Request(url, data=body, headers=headers or {}), timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def exchange(mock):
    """A code exchange configured only by the mock's .env values, as an app would be."""
    env = mock.env
    verifier = secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": env["OAUTH_CLIENT_ID"],
        "redirect_uri": env["OAUTH_REDIRECT_URI"],
        "scope": env["OAUTH_SCOPES"],
        "state": secrets.token_hex(16),
    }
    if env["OAUTH_PKCE_METHOD"] == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        params["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        params["code_challenge_method"] = "S256"
    status, headers, _ = send(f"{env['OAUTH_AUTHORIZE_URL']}?{urllib.parse.urlencode(params)}")
    assert status == 302, mock.provider
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(headers["Location"]).query)["code"][0]
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": env["OAUTH_REDIRECT_URI"]}
    if env["OAUTH_PKCE_METHOD"] == "S256":
        body["code_verifier"] = verifier
    headers = {}
    if env["OAUTH_TOKEN_AUTH_METHOD"] == "client_secret_basic":
        pair = f"{env['OAUTH_CLIENT_ID']}:{env['OAUTH_CLIENT_SECRET']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        body.update(client_id=env["OAUTH_CLIENT_ID"], client_secret=env["OAUTH_CLIENT_SECRET"])
    return send(env["OAUTH_TOKEN_URL"], body, headers)[0]


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_provider_env_values_drive_a_code_exchange(provider):
    with start_mock(provider, auto_approve=True, redirect_uri="http://localhost:5173/cb") as mock:
        assert mock.provider == provider
        assert mock.env["OAUTH_REDIRECT_URI"] == "http://localhost:5173/cb"
        assert mock.env["OAUTH_TOKEN_URL"].startswith(mock.url + "/")
        assert '"' not in mock.env["OAUTH_SCOPES"]
        assert mock.env["CRM_AUTH_SCHEME"]
        assert exchange(mock) == 200
        fault = mock.fail_next("token", status=503, times=1)
        assert (fault["kind"], fault["status"], fault["times"]) == ("status", 503, 1)
        assert exchange(mock) == 503
        assert [e["status"] for e in mock.journal() if e["endpoint"] == "token"] == [200, 503]
    assert gone(mock.pid)


@pytest.mark.parametrize("handshake_mock", ["redtail", {"provider": "insightly", "seed": 7}], indirect=True)
def test_the_fixture_takes_indirect_parameters(handshake_mock):
    assert handshake_mock.provider in ("redtail", "insightly")
    assert exchange(handshake_mock) == 200


def test_the_mock_is_stopped_when_the_body_raises():
    with pytest.raises(RuntimeError, match="the test failed"):
        with start_mock("redtail") as mock:
            raise RuntimeError("the test failed")
    assert gone(mock.pid)
    with pytest.raises(OSError):
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"{mock.url}/__handshake/healthz", timeout=2
        )
    with pytest.raises(RuntimeError, match="not running"):
        mock.journal()
    mock.stop()  # idempotent


def test_the_fixture_stops_the_mock_when_the_test_fails(pytester, monkeypatch, pytestconfig):
    """A failing test in a pytest run of its own: the fixture's teardown still stops the mock."""
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [package_dir, os.environ.get("PYTHONPATH")])))
    if os.environ.get("HANDSHAKE_BIN"):
        # pytester runs in a directory of its own: a relative path is relative to where we ran.
        binary = pytestconfig.invocation_params.dir / os.environ["HANDSHAKE_BIN"]
        monkeypatch.setenv("HANDSHAKE_BIN", str(binary))
    pid_file = pytester.path / "pid"
    pytester.makeconftest('pytest_plugins = ["handshake_mock.pytest_plugin"]')
    pytester.makepyfile(
        f"""
        def test_fails(handshake_mock):
            open({str(pid_file)!r}, "w").write(str(handshake_mock.pid))
            assert False, "the test failed"
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    assert gone(int(pid_file.read_text()))


def test_startup_failures_name_the_cause(tmp_path):
    with pytest.raises(MockStartError, match="exited before it was ready") as e:
        start_mock("no-such-crm")
    assert "no-such-crm" in str(e.value), "the mock's stderr is in the message"
    with pytest.raises(MockStartError, match=r"not found \(set HANDSHAKE_BIN"):
        start_mock("capsule", binary=str(tmp_path / "nonexistent"))
    with pytest.raises(TypeError, match="give a provider"):
        start_mock()


def test_a_process_that_never_gets_ready_is_killed_at_the_timeout(tmp_path):
    pid_file = tmp_path / "pid"
    fake = tmp_path / "fake-handshake"
    fake.write_text(f"#!/bin/sh\necho $$ > '{pid_file}'\necho 'warming up' >&2\nexec sleep 60\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    started = time.monotonic()
    with pytest.raises(MockStartError, match="no ready line within 0.5 s") as e:
        start_mock("capsule", binary=str(fake), timeout=0.5)
    assert "warming up" in str(e.value)
    assert time.monotonic() - started < 5
    assert gone(int(pid_file.read_text()))


def test_control_api_refusals_are_control_errors(handshake_mock):
    with pytest.raises(ControlError, match="invalid_request") as e:
        handshake_mock.revoke_grant("nobody")
    assert e.value.status == 400
    with pytest.raises(TypeError, match="exactly one of error, status, delay_ms, drop"):
        handshake_mock.fail_next("token")
    with pytest.raises(TypeError, match="exactly one"):
        handshake_mock.fail_next("token", error="invalid_grant", status=500)
    assert handshake_mock.fail_next("api", drop=True, times=2)["kind"] == "drop"
    assert handshake_mock.fail_next("token", delay_ms=10)["delay_ms"] == 10
    limited = handshake_mock.rate_limit_next(retry_after_secs=2)
    assert (limited["endpoint"], limited["kind"], limited["retry_after_secs"]) == ("api", "rate_limited", 2)
    assert handshake_mock.relax("pkce") == {"relaxed": ["pkce"]}
    assert handshake_mock.metadata()["client"]["client_id"] == "handshake-client"
    handshake_mock.reset()
    assert handshake_mock.journal() == []


def test_parse_env_line():
    assert parse_env_line("OAUTH_TOKEN_URL=http://127.0.0.1:1/oauth/token") == (
        "OAUTH_TOKEN_URL",
        "http://127.0.0.1:1/oauth/token",
    )
    assert parse_env_line('OAUTH_SCOPES="read write"') == ("OAUTH_SCOPES", "read write")
    assert parse_env_line("OAUTH_REVOKE_URL=") == ("OAUTH_REVOKE_URL", "")
    assert parse_env_line("A=b=c") == ("A", "b=c")
    assert parse_env_line("# .env for your app") is None
    assert parse_env_line("handshake: capsule mock (x) ready at http://127.0.0.1:1") is None
    assert parse_env_line("GET /oauth/token?a=b 200") is None


def test_parse_json_ready_line():
    assert parse_json_ready_line(
        '{"event":"ready","url":"http://127.0.0.1:9/","provider":"capsule","env":{"OAUTH_CLIENT_ID":"c","N":1}}'
    ) == {"url": "http://127.0.0.1:9", "provider": "capsule", "env": {"OAUTH_CLIENT_ID": "c"}}
    assert parse_json_ready_line('{"uri":"https://127.0.0.1:9"}') == {"url": "https://127.0.0.1:9"}
    assert parse_json_ready_line('{"event":"request","url":"http://127.0.0.1:9/oauth/token"}') is None
    assert parse_json_ready_line('{"event":"ready"}') is None
    assert parse_json_ready_line("{not json") is None
    assert parse_json_ready_line("OAUTH_CLIENT_ID=x") is None
    assert parse_json_ready_line("[1,2]") is None
