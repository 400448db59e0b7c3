"""handshake mock CRMs from Python tests (pytest, unittest, ...).

``start_mock("capsule")`` runs ``handshake serve capsule --port 0``, waits for its ready line
and ``.env`` lines, and returns a :class:`Mock`: the mock's URL, its ``.env`` values and the
control API (``/__handshake/*``) as methods. Use it as a context manager so the mock stops
even when the test fails::

    with start_mock("capsule", auto_approve=True) as mock:
        mock.fail_next("token", error="invalid_grant")
        ...  # your code, configured with mock.env
        assert mock.journal()[-1]["status"] == 400

Standard library only (subprocess, threading, urllib, json). The pytest fixture
``handshake_mock`` is in :mod:`handshake_mock.pytest_plugin`.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections import deque
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "DEFAULT_TIMEOUT",
    "ControlError",
    "Mock",
    "MockStartError",
    "parse_env_line",
    "parse_json_ready_line",
    "start_mock",
]

#: How long :func:`start_mock` waits for the ready line by default, in seconds.
DEFAULT_TIMEOUT = 15.0

_STDERR_LINES = 50
_LOG_LINES = 1000
_READY_LINE = re.compile(r"^handshake: (\S+) mock \(.*\) ready at (https?://\S+)\s*$")
_ENV_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")

# Every mock still running, killed when the interpreter exits (a test that forgot stop()).
_running: "weakref.WeakSet[Mock]" = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for mock in list(_running):
        mock._kill()


class MockStartError(RuntimeError):
    """The mock did not start: the binary is missing, it exited, or it printed no ready line
    in time. The message carries the mock's stderr."""


class ControlError(RuntimeError):
    """A non-2xx answer of the control API; ``status`` and the parsed ``body``."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def parse_env_line(line: str) -> Optional[Tuple[str, str]]:
    """One ``KEY=VALUE`` line of ``handshake serve`` as ``(key, value)``, or ``None``.

    Double quotes around the value are removed (``OAUTH_SCOPES="read write"``).

    >>> parse_env_line('OAUTH_SCOPES="read write"')
    ('OAUTH_SCOPES', 'read write')
    >>> parse_env_line("# .env for your app") is None
    True
    """
    m = _ENV_LINE.match(line.rstrip())
    if not m:
        return None
    value = m.group(2)
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    return m.group(1), value


def parse_json_ready_line(line: str) -> Optional[Dict[str, Any]]:
    """A machine-readable ready line (``--log-format json``) as ``{"url", "provider"?,
    "env"?}``, or ``None``.

    Accepts ``url``, ``uri`` or ``base_url`` for the URL, an ``env`` object of strings, and an
    ``event`` (or ``type``/``msg``/``message``/``kind``) of ``ready``, or no event at all.

    >>> parse_json_ready_line('{"event":"ready","url":"http://127.0.0.1:9/"}')
    {'url': 'http://127.0.0.1:9'}
    >>> parse_json_ready_line('{"event":"request","url":"http://127.0.0.1:9/x"}') is None
    True
    """
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    event = next(
        (obj[k] for k in ("event", "type", "msg", "message", "kind") if k in obj), None
    )
    if event is not None and not re.search(r"\bready\b", str(event), re.IGNORECASE):
        return None
    url = next(
        (
            u
            for u in (obj.get("url"), obj.get("uri"), obj.get("base_url"), obj.get("baseUrl"))
            if isinstance(u, str) and re.match(r"^https?://", u)
        ),
        None,
    )
    if url is None:
        return None
    out: Dict[str, Any] = {"url": url.rstrip("/")}
    provider = obj.get("provider", obj.get("id"))
    if isinstance(provider, str):
        out["provider"] = provider
    if isinstance(obj.get("env"), dict):
        out["env"] = {k: v for k, v in obj["env"].items() if isinstance(v, str)}
    return out


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401
        return None


# Loopback only: a proxy from the environment must never see the mock's traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class Mock:
    """A running mock CRM. Stop it with :meth:`stop`, or use it as a context manager.

    Attributes: ``url`` (base URL, no trailing slash), ``control_url`` (``url +
    "/__handshake"``), ``provider`` (the id from the ready line), ``env`` (the ``.env`` values
    ``handshake serve`` printed, quotes removed), ``pid`` and ``process``.
    """

    def __init__(
        self,
        process: subprocess.Popen,
        url: str,
        provider: Optional[str],
        env: Mapping[str, str],
        stderr: "deque[str]",
        log_lines: "deque[str]",
        readers: Sequence[threading.Thread] = (),
    ) -> None:
        self.process = process
        self.pid = process.pid
        self.url = url
        self.control_url = f"{url}/__handshake"
        self.provider = provider
        self.env: Dict[str, str] = dict(env)
        self._stderr = stderr
        self._log_lines = log_lines
        self._readers = list(readers)
        _running.add(self)

    # ---- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> "Mock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else "stopped"
        return f"<handshake Mock {self.provider} at {self.url} ({state})>"

    def stop(self, timeout: float = 3.0) -> None:
        """Stops the mock (SIGTERM, then SIGKILL after ``timeout`` seconds); idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _close(self.process, self._readers)
        _running.discard(self)

    def _kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        _close(self.process, self._readers)

    def log_lines(self) -> List[str]:
        """What the mock printed on stdout after its ready lines (the last 1000 lines)."""
        return list(self._log_lines)

    # ---- control API ------------------------------------------------------------------------

    def _stderr_text(self) -> str:
        return "\n".join(self._stderr) or "(nothing)"

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(
                f"the handshake mock is not running (exit code {code}); stderr:\n{self._stderr_text()}"
            )
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        req = urllib.request.Request(
            f"{self.control_url}/{path}", data=data, headers=headers, method=method
        )
        try:
            with _OPENER.open(req, timeout=30) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            parsed = _maybe_json(text)
            detail = (
                ": ".join(str(parsed[k]) for k in ("error", "error_description") if parsed.get(k))
                if isinstance(parsed, dict)
                else text
            )
            raise ControlError(
                f"{method} /__handshake/{path}: {e.code} {detail}", e.code, parsed
            ) from None
        except OSError as e:
            gone = self.process.poll()
            why = (
                f" (the mock exited: exit code {gone}; stderr:\n{self._stderr_text()})"
                if gone is not None
                else ""
            )
            raise RuntimeError(f"{method} {self.control_url}/{path} failed: {e}{why}") from e
        return _maybe_json(text) if text else None

    def fail_next(
        self,
        endpoint: str,
        *,
        error: Optional[str] = None,
        status: Optional[int] = None,
        delay_ms: Optional[int] = None,
        drop: bool = False,
        times: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Fails the next request(s) to ``endpoint`` (``authorize``, ``token``, ``revoke``,
        ``api``) with exactly one of: an RFC 6749 ``error``, an HTTP ``status``, a delay of
        ``delay_ms``, or a dropped connection (``drop=True``); ``times`` requests (default 1).
        Returns the fault as the mock armed it."""
        given = [
            name
            for name, v in (("error", error), ("status", status), ("delay_ms", delay_ms))
            if v is not None
        ] + (["drop"] if drop else [])
        if len(given) != 1:
            raise TypeError(
                f"fail_next({endpoint!r}, ...): say how it fails with exactly one of error, "
                f"status, delay_ms, drop (got {', '.join(given) or 'none'})"
            )
        fault: Dict[str, Any] = {"endpoint": endpoint}
        if error is not None:
            fault.update(kind="oauth_error", error=error)
        elif status is not None:
            fault.update(kind="status", status=status)
        elif delay_ms is not None:
            fault.update(kind="delay", delay_ms=delay_ms)
        else:
            fault["kind"] = "drop"
        if times is not None:
            fault["times"] = times
        return self._control("POST", "faults", fault)

    def rate_limit_next(
        self, *, retry_after_secs: int = 1, times: Optional[int] = None
    ) -> Dict[str, Any]:
        """The CRM's own 429 (its headers and body) on the next API request(s), holding for
        ``retry_after_secs``; at most ``times`` refusals in that period."""
        fault: Dict[str, Any] = {
            "endpoint": "api",
            "kind": "rate_limited",
            "retry_after_secs": retry_after_secs,
        }
        if times is not None:
            fault["times"] = times
        return self._control("POST", "faults", fault)

    def clear_faults(self) -> None:
        """Disarms every fault and ends a running rate limit."""
        self._control("DELETE", "faults")

    def expire_tokens(self) -> None:
        """Expires every access token now."""
        self._control("POST", "expire")

    def revoke_grant(self, user: Optional[str] = None) -> None:
        """Revokes every grant, or ``user``'s only, as a user would in the CRM."""
        self._control("POST", "revoke", None if user is None else {"user": user})

    def advance_clock(self, secs: int) -> Dict[str, Any]:
        """Moves the mock's clock forward; returns ``{"offset_secs": N}``."""
        return self._control("POST", "clock", {"advance_secs": secs})

    def relax(self, requirement: str) -> Dict[str, Any]:
        """Lifts one requirement (``pkce``, ``body_encoding``, ``client_auth``, ``scope``) for
        the rest of the run; returns ``{"relaxed": [...]}``."""
        return self._control("POST", "relax", {"requirement": requirement})

    def journal(self) -> List[Dict[str, Any]]:
        """Every request received, oldest first, secrets redacted."""
        return self._control("GET", "journal")

    def metadata(self) -> Dict[str, Any]:
        """RFC 8414 metadata plus provider, client (never the secret) and users."""
        return self._control("GET", "metadata")

    def reset(self) -> None:
        """Forgets codes, tokens, faults, relaxations and the journal."""
        self._control("POST", "reset")


def _close(proc: subprocess.Popen, readers: Sequence[threading.Thread]) -> None:
    """After the process ended: let the readers reach the end of its output, close the pipes."""
    for t in readers:
        t.join(1.0)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None and not any(t.is_alive() for t in readers):
            pipe.close()


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _serve_args(
    provider: Optional[str],
    profile: Optional[str],
    port: int,
    host: Optional[str],
    client_id: Optional[str],
    redirect_uri: Union[None, str, Sequence[str]],
    auto_approve: bool,
    tls: bool,
    seed: Optional[int],
    rate_limit: Optional[int],
    rate_window: Optional[int],
    log_format: Optional[str],
    args: Iterable[str],
) -> List[str]:
    out = ["serve"]
    if profile:
        out += ["--profile", os.fspath(profile)]
    elif provider:
        out.append(provider)
    else:
        raise TypeError('start_mock: give a provider (e.g. "capsule") or profile= (a TOML file)')
    out += ["--port", str(port)]
    if host:
        out += ["--host", host]
    if client_id:
        out += ["--client-id", client_id]
    uris = [] if redirect_uri is None else [redirect_uri] if isinstance(redirect_uri, str) else list(redirect_uri)
    for uri in uris:
        out += ["--redirect-uri", uri]
    if auto_approve:
        out.append("--auto-approve")
    if tls:
        out.append("--tls")
    if seed is not None:
        out += ["--seed", str(seed)]
    if rate_limit is not None:
        out += ["--rate-limit", str(rate_limit)]
    if rate_window is not None:
        out += ["--rate-window", str(rate_window)]
    if log_format:
        out += ["--log-format", log_format]
    out += list(args)
    return out


def start_mock(
    provider: Optional[str] = None,
    *,
    binary: Optional[str] = None,
    redirect_uri: Union[None, str, Sequence[str]] = None,
    port: int = 0,
    host: Optional[str] = None,
    auto_approve: bool = False,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    profile: Optional[str] = None,
    tls: bool = False,
    seed: Optional[int] = None,
    rate_limit: Optional[int] = None,
    rate_window: Optional[int] = None,
    log_format: Optional[str] = None,
    args: Iterable[str] = (),
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Mock:
    """Starts ``handshake serve <provider> --port 0`` and waits until it is ready.

    ``binary`` defaults to ``HANDSHAKE_BIN`` from the environment, else ``handshake`` on
    ``PATH``. ``client_secret`` is passed through the environment (``ps`` does not show it);
    ``env`` adds variables for the mock process (e.g. ``HANDSHAKE_API_KEY``); ``args`` adds
    arguments to ``handshake serve``. Raises :class:`MockStartError` with the mock's stderr
    when it does not get ready within ``timeout`` seconds.

    The returned :class:`Mock` is a context manager: ``with start_mock(...) as mock:``.
    """
    binary = os.fspath(binary or os.environ.get("HANDSHAKE_BIN") or "handshake")
    if os.sep in binary:
        # A path (not a name looked up on PATH) is relative to this process, whatever cwd= is.
        binary = os.path.abspath(binary)
    argv = _serve_args(
        provider, profile, port, host, client_id, redirect_uri, auto_approve, tls, seed,
        rate_limit, rate_window, log_format, args,
    )
    proc_env = dict(os.environ)
    proc_env.update(env or {})
    if client_secret is not None:
        proc_env["HANDSHAKE_CLIENT_SECRET"] = client_secret
    command = f"handshake {' '.join(argv)}"
    try:
        proc = subprocess.Popen(
            [binary, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=proc_env,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
    except FileNotFoundError:
        raise MockStartError(
            f"cannot run {binary!r}: not found (set HANDSHAKE_BIN or pass binary=, e.g. "
            "target/debug/handshake)"
        ) from None
    except OSError as e:
        raise MockStartError(f"cannot run {binary!r}: {e}") from None

    stderr: "deque[str]" = deque(maxlen=_STDERR_LINES)
    log_lines: "deque[str]" = deque(maxlen=_LOG_LINES)
    state: Dict[str, Any] = {"url": None, "provider": None, "env": {}, "last": 0.0}
    ready = threading.Event()
    lock = threading.Lock()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr.append(line.rstrip("\n"))

    def read_stdout() -> None:
        # Read to the end, so a chatty mock (a request log) never blocks on a full pipe.
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            with lock:
                if ready.is_set():
                    log_lines.append(line)
                    continue
                parsed = parse_json_ready_line(line)
                if parsed and state["url"] is None:
                    state["url"] = parsed["url"]
                    state["provider"] = parsed.get("provider")
                    if "env" in parsed:
                        state["env"].update(parsed["env"])
                        ready.set()
                        continue
                human = _READY_LINE.match(line)
                if human and state["url"] is None:
                    state["provider"], state["url"] = human.group(1), human.group(2).rstrip("/")
                elif state["url"] is not None:
                    kv = parse_env_line(line)
                    if kv:
                        state["env"][kv[0]] = kv[1]
                if state["url"] is not None:
                    if re.search(r"press Ctrl-C", line, re.IGNORECASE):
                        ready.set()
                    state["last"] = time.monotonic()

    threads = [
        threading.Thread(target=read_stdout, name="handshake-stdout", daemon=True),
        threading.Thread(target=read_stderr, name="handshake-stderr", daemon=True),
    ]
    for t in threads:
        t.start()

    def stderr_text() -> str:
        # The stderr reader may still be catching up with a process that just exited.
        threads[1].join(0.5)
        return "\n".join(stderr) or "(nothing)"

    deadline = time.monotonic() + timeout
    while not ready.wait(0.02):
        with lock:
            # A future format without the closing line: the lines come in one burst.
            if state["url"] is not None and time.monotonic() - state["last"] > 0.5:
                ready.set()
                break
        code = proc.poll()
        if code is not None:
            threads[0].join(0.5)
            if ready.is_set():
                break
            message = f"{command} exited before it was ready (exit code {code}); stderr:\n{stderr_text()}"
            _close(proc, threads)
            raise MockStartError(message)
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            message = f"{command}: no ready line within {timeout:g} s; stderr:\n{stderr_text()}"
            _close(proc, threads)
            raise MockStartError(message)
    with lock:
        return Mock(
            proc, state["url"], state["provider"], state["env"], stderr, log_lines, threads
        )
