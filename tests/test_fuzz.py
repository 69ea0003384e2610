"""Property-based tests: whatever a client sends, POST /study_sessions answers 201 or a 4xx in our JSON shape,
and a 4xx writes nothing. FUZZ_EXAMPLES sets the examples per test (default 200)."""
import json
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.repository import MAX_ID
from chalicelib.validation import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    optional_idempotency_key,
    parse_json_object,
    require_id,
)
from conftest import scan_items

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
ANSWERS = {201, 400, 404, 413, 415, 422}

def mostly(usual: st.SearchStrategy, unusual: st.SearchStrategy) -> st.SearchStrategy:
    """usual three times in four, so most examples get past the first checks and deep into the code."""
    return st.integers(min_value=0, max_value=3).flatmap(lambda n: unusual if n == 3 else usual)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
ids = mostly(st.integers(min_value=1, max_value=3),  # groups 1 and 2 and activity 1 exist; 3 does not
             st.sampled_from([0, -1, MAX_ID, MAX_ID + 1, True, False, None, 1.0, "1"]) | json_values)
session_objects = st.fixed_dictionaries(
    {"group_id": ids, "study_activity_id": ids},
    optional={"note": json_values, "group_name": json_values, "id": json_values})


def _corrupt(data: tuple[bytes, int, bytes]) -> bytes:
    body, position, junk = data
    position %= max(len(body), 1)
    return body[:position] + junk + body[position + 1:]


valid_json_bytes = session_objects.map(lambda obj: json.dumps(obj).encode())
bodies = mostly(valid_json_bytes, st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    st.tuples(valid_json_bytes, st.integers(min_value=0), st.binary(max_size=3)).map(_corrupt),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
))
content_types = mostly(
    st.sampled_from(["application/json", "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\""]),
    st.sampled_from(["application/json; charset=latin-1", "text/plain", "application/json, text/plain",
                     "multipart/form-data; boundary=x", "application/jsonx", ""])
    | st.text(max_size=40)
    | st.none())  # no Content-Type header at all
printable_ascii = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
idempotency_keys = mostly(st.none() | st.sampled_from(["retry-1", "retry-2"]),
                          st.text(printable_ascii, min_size=1, max_size=40) | st.text(max_size=300))
header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)
extra_headers = st.dictionaries(header_names, st.text(max_size=40), max_size=4)

FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                         # The table fixture is shared by all examples on purpose: each compares before and after.
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def send(api, body: bytes, content_type: str | None, key: str | None, extra: dict[str, str]):
    headers = dict(extra)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.post("/study_sessions", body=body, headers=headers)


@pytest.fixture
def last_scan(dynamodb, table) -> dict:
    """The table as the previous example left it: only the examples' own requests change it."""
    return {"items": scan_items(dynamodb, table)}


@FUZZ_SETTINGS
@given(body=bodies, content_type=content_types, key=idempotency_keys, extra=extra_headers)
def test_any_request_gets_201_or_a_4xx_json_error_and_a_4xx_writes_nothing(
        api, dynamodb, table, last_scan, body, content_type, key, extra):
    before = last_scan["items"]
    response = send(api, body, content_type, key, extra)
    after = last_scan["items"] = scan_items(dynamodb, table)
    event(f"answered {response.status_code}")
    assert response.status_code in ANSWERS
    assert response.headers["Content-Type"].startswith("application/json")
    answer = json.loads(response.body)
    if response.status_code >= 400:
        assert set(answer) == {"error"} and isinstance(answer["error"], str) and answer["error"]
        assert after == before
    else:
        stored = {item["PK"]: item for item in after}
        assert stored[f"SESSION#{answer['id']}"]["group_id"] == answer["group_id"]
        new = [item for item in after if item not in before]
        assert len(new) <= 2  # the session, and the key's record if a key was sent; a replay adds nothing


@settings(max_examples=EXAMPLES * 10, deadline=None)
@given(body=bodies | st.integers(min_value=65_000, max_value=66_000).map(lambda size: b"{" + b" " * size + b"}"),
       content_type=content_types)
def test_parsing_any_body_returns_an_object_or_raises_a_named_error(body, content_type):
    try:
        payload = parse_json_object(body=body, content_type=content_type)
    except (UnsupportedMediaTypeError, PayloadTooLargeError, InvalidRequestError) as exc:
        assert str(exc)
        return
    assert isinstance(payload, dict)
    for field in ("group_id", "study_activity_id"):
        try:
            value = require_id(payload, field)
        except InvalidRequestError:
            continue
        assert type(value) is int and 1 <= value <= MAX_ID


@settings(max_examples=EXAMPLES * 10, deadline=None)
@given(key=st.text(max_size=300))
def test_an_idempotency_key_is_accepted_exactly_when_it_is_1_to_255_printable_ascii(key):
    valid = 1 <= len(key) <= 255 and all(32 <= ord(char) <= 126 for char in key)
    if valid:
        assert optional_idempotency_key(key) == key
    else:
        with pytest.raises(InvalidRequestError):
            optional_idempotency_key(key)
