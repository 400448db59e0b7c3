# Registers the handshake_mock fixture (and its --handshake-bin option and `handshake` marker)
# for the tests in this directory without installing the package: pytest puts this directory
# on sys.path (pyproject.toml, pythonpath). In your project, put this line in your top-level
# conftest.py, or `pip install path/to/bindings/python`, whose pytest11 entry point (of the
# same name, so both together are fine) registers the plugin by itself.
pytest_plugins = ["handshake_mock.pytest_plugin", "pytester"]  # pytester: tests/test_helper.py

import pytest

import handshake_mock
import openapi_contract

# Every control call the helper makes goes through this opener: keep each answer, and check
# those of a test against crates/mock/openapi.json after it (a violation fails the test).
openapi_contract.install(handshake_mock._OPENER)


@pytest.fixture(autouse=True)
def _control_answers_follow_the_openapi_document():
    start = len(openapi_contract.ANSWERS)
    yield
    failures = openapi_contract.check_answers(openapi_contract.ANSWERS[start:])
    if failures:
        pytest.fail("control answers that break crates/mock/openapi.json:\n" + "\n".join(failures), pytrace=False)
