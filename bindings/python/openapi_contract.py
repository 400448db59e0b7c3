"""The control API's contract, ``crates/mock/openapi.json`` (OpenAPI 3.1), checked against
the control answers the tests of bindings/python see.

``install(opener)`` adds a urllib handler to the opener ``handshake_mock`` sends its control
calls with (``handshake_mock._OPENER``): it keeps every answer (status, headers, body; error
answers too, before urllib turns them into ``HTTPError``) in ``ANSWERS`` and hands an
identical answer on. conftest.py checks the answers of each test after it, with
:func:`check`: the status must be documented for the operation, documented headers present
and valid, the media type listed, and the body valid against its schema
(openapi-schema-validator's ``OAS31Validator``, JSON Schema 2020-12). A path the document does
not list must be 404, a method it does not list for a path 405 with a matching ``Allow``.

This mirrors ``crates/mock/tests/common/contract.rs``, which does the same for the Rust tests.
"""

from __future__ import annotations

import io
import json
import pathlib
import urllib.parse
import urllib.request
import urllib.response
from typing import Any, Dict, List, Optional, Tuple

from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

#: The document, in the repository (the mock embeds and serves the same file).
DOCUMENT = pathlib.Path(__file__).resolve().parents[2] / "crates" / "mock" / "openapi.json"

#: Where the document is registered for ``$ref`` resolution (never fetched).
BASE = "http://handshake.invalid/__handshake/openapi.json"

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ContractError(AssertionError):
    """A control answer the document does not allow."""


def escape(token: str) -> str:
    """``token`` as one JSON Pointer token (RFC 6901).

    >>> escape("/__handshake/faults")
    '~1__handshake~1faults'
    """
    return token.replace("~", "~0").replace("/", "~1")


class Contract:
    """A parsed OpenAPI document and the schema validators compiled from it."""

    def __init__(self, doc: Dict[str, Any]) -> None:
        self.doc = doc
        resource = Resource(contents=doc, specification=DRAFT202012)
        self.registry = Registry().with_resource(BASE, resource)
        self._validators: Dict[str, OAS31Validator] = {}

    def pointer(self, ptr: str) -> Any:
        node: Any = self.doc
        for token in ptr.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def object_at(self, ptr: str) -> Tuple[Any, str]:
        """The object at ``ptr``, a Reference Object there followed."""
        node = self.pointer(ptr)
        ref = node.get("$ref") if isinstance(node, dict) else None
        if isinstance(ref, str):
            target = ref[1:]
            return self.pointer(target), target
        return node, ptr

    def validate(self, ptr: str, instance: Any) -> None:
        """Validates ``instance`` against the schema at ``ptr``; raises :class:`ContractError`."""
        validator = self._validators.get(ptr)
        if validator is None:
            validator = OAS31Validator({"$ref": f"{BASE}#{ptr}"}, registry=self.registry)
            self._validators[ptr] = validator
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            detail = "; ".join(f"at {list(e.absolute_path)}: {e.message}" for e in errors[:5])
            raise ContractError(f"violates {ptr}: {detail}")

    def methods_of(self, path: str) -> Optional[List[str]]:
        item = self.doc["paths"].get(path)
        if item is None:
            return None
        return [m.upper() for m in METHODS if m in item]

    def check(self, method: str, path: str, status: int, headers: Any, body: bytes) -> Tuple[str, str, str]:
        """Checks one answer; returns the (path, method, status) it matched.

        ``headers`` is anything with a case-insensitive ``get`` (``http.client.HTTPMessage``).
        """
        shown = body[:600].decode(errors="replace")

        def fail(why: str) -> ContractError:
            return ContractError(
                f"{method} {path} answered {status}, which openapi.json does not allow: {why}\nbody: {shown}"
            )

        m = method.lower()
        documented = self.methods_of(path)
        if documented is None:
            if status == 503:
                key, resp_ptr = "503", "/components/responses/Busy"
            elif status != 404:
                raise fail(f"{path} is not documented, so it must be 404")
            else:
                key, resp_ptr = "404", "/components/responses/NotFound"
        else:
            if m == "head" and "HEAD" not in documented:
                m = "get"
            if m.upper() in documented:
                op_ptr = f"/paths/{escape(path)}/{m}"
                responses = self.pointer(op_ptr)["responses"]
                candidates = [str(status), f"{status // 100}XX", "default"]
                key = next((k for k in candidates if k in responses), None)
                if key is None:
                    raise fail(f"status {status} is not documented for this operation")
                resp_ptr = f"{op_ptr}/responses/{key}"
            elif status == 503:
                key, resp_ptr = "503", "/components/responses/Busy"
            elif status != 405:
                raise fail(f"{method} is not documented for {path} ({documented}), so it must be 405")
            else:
                expected = set(documented) | ({"HEAD"} if "GET" in documented else set())
                allow = {a.strip().upper() for a in (headers.get("Allow") or "").split(",") if a.strip()}
                if allow != expected:
                    raise fail(f"Allow is {sorted(allow)} but the document lists {sorted(expected)}")
                key, resp_ptr = "405", "/components/responses/MethodNotAllowed"
        resp, resp_ptr = self.object_at(resp_ptr)
        for name in resp.get("headers", {}):
            header, h_ptr = self.object_at(f"{resp_ptr}/headers/{escape(name)}")
            value = headers.get(name)
            if value is None:
                if header.get("required"):
                    raise fail(f"header {name} is missing")
            elif "schema" in header:
                try:
                    self.validate(f"{h_ptr}/schema", value)
                except ContractError as e:
                    raise fail(f"header {name}: {e}") from None
        content = resp.get("content") or {}
        if not content:
            if body:
                raise fail("the document says no body")
            return path, m, key
        media = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media not in content:
            raise fail(f"Content-Type {media!r} is not one of {sorted(content)}")
        if m == "head":
            return path, m, key
        if media == "application/json" or media.endswith("+json"):
            try:
                instance: Any = json.loads(body)
            except ValueError as e:
                raise fail(f"the body is not JSON: {e}") from None
        else:
            instance = body.decode()
        try:
            self.validate(f"{resp_ptr}/content/{escape(media)}/schema", instance)
        except ContractError as e:
            raise fail(str(e)) from None
        return path, m, key


_contract: Optional[Contract] = None


def contract() -> Contract:
    """The repository's document, parsed once."""
    global _contract
    if _contract is None:
        _contract = Contract(json.loads(DOCUMENT.read_text(encoding="utf-8")))
    return _contract


#: Every control answer kept by the installed handler: (method, url, status, headers, body).
ANSWERS: List[Tuple[str, str, int, Any, bytes]] = []


class KeepAnswers(urllib.request.BaseHandler):
    """Keeps each answer to a ``/__handshake`` URL in :data:`ANSWERS`; hands an identical
    one on. Ordered before ``HTTPErrorProcessor``, so it sees 4xx answers too."""

    handler_order = 100

    def http_response(self, request: urllib.request.Request, response: Any) -> Any:
        path = urllib.parse.urlsplit(request.full_url).path
        if not path.startswith("/__handshake"):
            return response
        body = response.read()
        ANSWERS.append((request.get_method(), request.full_url, response.code, response.headers, body))
        again = urllib.response.addinfourl(io.BytesIO(body), response.headers, response.url, response.code)
        again.msg = response.msg
        return again

    https_response = http_response


def install(opener: urllib.request.OpenerDirector) -> None:
    """Adds :class:`KeepAnswers` to ``opener`` (once)."""
    if not any(isinstance(h, KeepAnswers) for h in opener.handlers):
        opener.add_handler(KeepAnswers())


def check_answers(answers: List[Tuple[str, str, int, Any, bytes]]) -> List[str]:
    """Every violation among ``answers``, in words."""
    failures = []
    for method, url, status, headers, body in answers:
        path = urllib.parse.urlsplit(url).path
        try:
            contract().check(method, path, status, headers, body)
        except ContractError as e:
            failures.append(str(e))
    return failures


class _Headers:
    """A plain dict of header values with the case-insensitive ``get`` :meth:`Contract.check`
    reads (what ``http.client.HTTPMessage`` offers)."""

    def __init__(self, values: Dict[str, str]) -> None:
        self._values = {k.lower(): v for k, v in values.items()}

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self._values.get(name.lower(), default)


def check_log(lines: List[str]) -> List[str]:
    """Every violation among control answers kept as JSON lines (``method``, ``url``,
    ``status``, ``headers``, ``body``), as bindings/node writes them to
    ``HANDSHAKE_CONTRACT_LOG``."""
    answers = []
    for line in lines:
        if not line.strip():
            continue
        a = json.loads(line)
        answers.append((a["method"], a["url"], int(a["status"]), _Headers(a["headers"]), a["body"].encode()))
    return check_answers(answers)


def main(argv: List[str]) -> int:
    """``python openapi_contract.py --check-log FILE``: judges the answers in FILE."""
    if len(argv) != 2 or argv[0] != "--check-log":
        print("usage: openapi_contract.py --check-log FILE")
        return 2
    lines = pathlib.Path(argv[1]).read_text().splitlines()
    failures = check_log(lines)
    for f in failures:
        print(f)
    kept = sum(1 for line in lines if line.strip())
    if not kept:
        print(f"no control answers in {argv[1]}: nothing was checked")
        return 1
    print(f"{kept} control answers checked against openapi.json: {len(failures)} not allowed")
    return 1 if failures else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))

