"""The control API's OpenAPI document (crates/mock/openapi.json): valid OpenAPI 3.1 by the
official schema, served by the mock, and followed by every control answer these tests see
(conftest.py checks each test's answers after it; here, that the check runs and can fail)."""

import copy
import json

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

import openapi_contract
from handshake_mock import ControlError


def document():
    return json.loads(openapi_contract.DOCUMENT.read_text(encoding="utf-8"))


def test_the_document_is_valid_openapi_3_1():
    doc = document()
    assert doc["openapi"].startswith("3.1.")
    validate(doc, cls=OpenAPIV31SpecValidator)


@pytest.mark.parametrize(
    "breakage",
    ["a dangling $ref", "a parameter without `in`", "a schema that is no schema"],
)
def test_the_meta_schema_check_can_fail(breakage):
    doc = document()
    if breakage == "a dangling $ref":
        doc["components"]["schemas"]["Faults"]["properties"]["faults"]["items"] = {"$ref": "#/components/schemas/Nothing"}
    elif breakage == "a parameter without `in`":
        del doc["paths"]["/__handshake/journal"]["get"]["parameters"][0]["in"]
    else:
        doc["components"]["schemas"]["Health"]["type"] = 7
    with pytest.raises((OpenAPIValidationError, Unresolvable)):
        validate(doc, cls=OpenAPIV31SpecValidator)


def test_the_mock_serves_the_document(handshake_mock):
    assert handshake_mock._control("GET", "openapi.json") == document()


def test_control_answers_are_kept_and_checked(handshake_mock):
    start = len(openapi_contract.ANSWERS)
    handshake_mock.fail_next("token", error="invalid_grant", times=2)
    handshake_mock.rate_limit_next(retry_after_secs=5)
    handshake_mock.clear_faults()
    assert handshake_mock.advance_clock(30) == {"offset_secs": 30}
    assert handshake_mock.relax("pkce") == {"relaxed": ["pkce"]}
    with pytest.raises(ControlError) as refused:
        handshake_mock.relax("tls")
    assert refused.value.status == 400
    handshake_mock.revoke_grant("bob")
    handshake_mock.expire_tokens()
    assert handshake_mock.metadata()["provider"] == "capsule"
    assert handshake_mock.journal() == []
    handshake_mock.reset()
    kept = openapi_contract.ANSWERS[start:]
    assert [(a[0], a[2]) for a in kept] == [
        ("POST", 201),
        ("POST", 201),
        ("DELETE", 204),
        ("POST", 200),
        ("POST", 200),
        ("POST", 400),
        ("POST", 204),
        ("POST", 204),
        ("GET", 200),
        ("GET", 200),
        ("POST", 204),
    ]
    assert openapi_contract.check_answers(kept) == []

    # A document that says otherwise fails the same answers.
    wrong = copy.deepcopy(document())
    wrong["components"]["schemas"]["Clock"]["properties"]["offset_secs"] = {"type": "string"}
    del wrong["paths"]["/__handshake/relax"]["post"]["responses"]["400"]
    wrong["components"]["schemas"]["Metadata"]["required"].append("tenant")
    checker = openapi_contract.Contract(wrong)
    failures = []
    for method, url, status, headers, body in kept:
        path = url.split("//", 1)[1].split("/", 1)[1].split("?")[0]
        try:
            checker.check(method, "/" + path, status, headers, body)
        except openapi_contract.ContractError as e:
            failures.append(str(e))
    assert len(failures) == 3, failures
    assert "POST /__handshake/clock answered 200" in failures[0]
    assert "status 400 is not documented" in failures[1]
    assert "'tenant' is a required property" in failures[2]


def test_node_helper_contract_log_is_judged():
    """The lines bindings/node writes to HANDSHAKE_CONTRACT_LOG: a documented answer passes,
    one the document does not allow is reported."""
    good = {
        "method": "GET",
        "url": "http://127.0.0.1:1/__handshake/healthz",
        "status": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"status": "ok"}),
    }
    bad = dict(good, url="http://127.0.0.1:1/__handshake/grants", body=json.dumps({"grants": "nope"}))
    lines = [json.dumps(good), json.dumps(bad)]
    failures = openapi_contract.check_log(lines)
    assert len(failures) == 1 and "/__handshake/grants" in failures[0], failures
