"""The ``handshake_mock`` pytest fixture: a fresh mock CRM per test, stopped after it,
pass or fail.

Register it with the entry point (``pip install bindings/python``: nothing else to do), or in
your top-level ``conftest.py``::

    pytest_plugins = ["handshake_mock.pytest_plugin"]

The default is Capsule with auto-approve. Choose another provider or options per test with
the ``handshake`` marker, or by indirect parametrization::

    @pytest.mark.handshake("connectwise", redirect_uri="http://localhost:5173/cb")
    def test_connectwise(handshake_mock): ...

    @pytest.mark.parametrize("handshake_mock", ["capsule", "redtail"], indirect=True)
    def test_every_crm(handshake_mock): ...

The binary is ``--handshake-bin``, else ``HANDSHAKE_BIN``, else ``handshake`` on ``PATH``.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest

from . import Mock, start_mock

#: What the fixture starts when a test says nothing else.
DEFAULTS: Dict[str, Any] = {"provider": "capsule", "auto_approve": True}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("handshake", "handshake mock CRMs")
    group.addoption(
        "--handshake-bin",
        dest="handshake_bin",
        default=None,
        help="the handshake binary (default: HANDSHAKE_BIN, else handshake on PATH)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "handshake(provider=None, **options): options of start_mock() for the handshake_mock fixture",
    )


def _options(request: pytest.FixtureRequest) -> Dict[str, Any]:
    options = dict(DEFAULTS)
    marker = request.node.get_closest_marker("handshake")
    if marker is not None:
        if marker.args:
            options["provider"] = marker.args[0]
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, str):
        options["provider"] = param
    elif isinstance(param, dict):
        options.update(param)
    elif param is not None:
        raise TypeError(f"handshake_mock: parametrize with a provider name or a dict, not {param!r}")
    if options.get("profile"):
        options.pop("provider", None)
    if options.get("binary") is None:
        options["binary"] = request.config.getoption("handshake_bin", default=None)
    return options


@pytest.fixture
def handshake_mock(request: pytest.FixtureRequest) -> Iterator[Mock]:
    """A running handshake mock (:class:`handshake_mock.Mock`), stopped after the test."""
    options = _options(request)
    provider = options.pop("provider", None)
    with start_mock(provider, **options) as mock:
        yield mock
