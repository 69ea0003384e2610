"""Parsing request bodies and headers, for any input (property-based): an object, or one of the named errors."""

import pytest
from hypothesis import given, settings, strategies as st

from chalicelib.store.items import MAX_ID
from chalicelib.validation import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    optional_idempotency_key,
    parse_json_object,
    require_id,
)
from tests.support.strategies import EXAMPLES, bodies, content_types


@settings(max_examples=EXAMPLES * 10, deadline=None)
@given(
    body=bodies | st.integers(min_value=65_000, max_value=66_000).map(lambda size: b"{" + b" " * size + b"}"),
    content_type=content_types,
)
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
