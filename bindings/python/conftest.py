# Registers the handshake_mock fixture (and its --handshake-bin option and `handshake` marker)
# for the tests in this directory without installing the package: pytest puts this directory
# on sys.path (pyproject.toml, pythonpath). In your project, put this line in your top-level
# conftest.py, or `pip install path/to/bindings/python`, whose pytest11 entry point (of the
# same name, so both together are fine) registers the plugin by itself.
pytest_plugins = ["handshake_mock.pytest_plugin", "pytester"]  # pytester: tests/test_helper.py
