"""The error contract's shape, the session cookie, the import key's rules, session ids."""

from __future__ import annotations

import json

import pytest

from hitcounter.core.errors import AppError, BackendUnavailable, MethodNotAllowed, NotFound, Unauthorized, Unprocessable
from hitcounter.logic.imports import import_id
from hitcounter.logic.sessions import COOKIE, session_ids
from hitcounter.model.keys import import_key as validate_key
from hitcounter.web import contract
from hitcounter.web.cookies import cleared_cookie, session_cookie


def test_every_error_is_one_shape_with_its_status() -> None:
    response = contract.error_response(NotFound("no such import"))
    assert response.status_code == 404
    assert json.loads(str(response.body)) == {"error": {"code": "not_found", "message": "no such import"}}


def test_a_503_says_when_to_retry_and_a_405_what_is_allowed() -> None:
    assert contract.error_response(BackendUnavailable(), retry_after=3).headers["Retry-After"] == "3"
    assert contract.error_response(MethodNotAllowed(["PUT", "GET"])).headers["Allow"] == "GET, PUT"


def test_a_bug_answers_a_generic_500_naming_nothing() -> None:
    body = json.loads(str(contract.error_response(AppError()).body))
    assert body == {"error": {"code": "internal_error", "message": "internal error"}}


def test_json_answers_are_never_sniffed() -> None:
    assert contract.json_response(200, {"hits": 1}).headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("event", [None, [], {"requestContext": {}}, {"rawPath": "/", "requestContext": {"http": "x"}}])
def test_an_event_that_is_not_an_http_api_request_is_a_400(event: object) -> None:
    answer = contract.malformed_event_response(event)
    assert answer is not None and answer["statusCode"] == 400


def test_the_session_cookie_is_host_only_and_cleared_with_max_age_0() -> None:
    made = str(session_cookie("A" * 43, 60))
    assert made.startswith(f"{COOKIE}=") and COOKIE.startswith("__Host-")
    assert "Secure" in made and "Path=/" in made and "HttpOnly" in made and "Domain" not in made
    assert "Max-Age=0" in str(cleared_cookie())


def test_session_ids_are_the_well_formed_values_first_four_in_order() -> None:
    sid = "A" * 43
    cookies = ["theme=dark", f"{COOKIE}=short", f"{COOKIE}={sid}; {COOKIE}={'B' * 43}", f"sid={'C' * 43}"]
    assert session_ids(cookies) == [sid, "B" * 43]
    with pytest.raises(Unauthorized):
        session_ids([f"sid={sid}"])  # the old name is not the session cookie


@pytest.mark.parametrize("key", ["logs/a\u202eb.log", "logs/\u0085", "logs/\x00", "logs/\u200b", "x" * 300, "", 7])
def test_import_keys_refused(key: object) -> None:
    with pytest.raises(Unprocessable):
        validate_key(key, "logs/")


def test_import_keys_in_any_script_and_an_id_per_object_version() -> None:
    assert validate_key("logs/журнал.log", "logs/") == "logs/журнал.log"
    assert import_id("b", "logs/a", "e1") != import_id("b", "logs/a", "e2") == import_id("b", "logs/a", "e2")
