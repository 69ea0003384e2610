"""Hypothesis strategies for what a client might send: JSON bodies (mostly valid, sometimes anything), Content-Types,
Idempotency-Keys and extra headers. FUZZ_EXAMPLES sets the examples per test (default 200)."""

import json
import os

from hypothesis import strategies as st

from chalicelib.store.items import MAX_ID

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))


def mostly(usual: st.SearchStrategy, unusual: st.SearchStrategy) -> st.SearchStrategy:
    """usual three times in four, so most examples get past the first checks and deep into the code."""
    return st.integers(min_value=0, max_value=3).flatmap(lambda n: unusual if n == 3 else usual)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ids = mostly(
    st.integers(min_value=1, max_value=3),  # groups 1 and 2 and activity 1 exist; 3 does not
    st.sampled_from([0, -1, MAX_ID, MAX_ID + 1, True, False, None, 1.0, "1"]) | json_values,
)
session_objects = st.fixed_dictionaries(
    {"group_id": ids, "study_activity_id": ids},
    optional={"note": json_values, "group_name": json_values, "id": json_values},
)


def corrupt(data: tuple[bytes, int, bytes]) -> bytes:
    body, position, junk = data
    position %= max(len(body), 1)
    return body[:position] + junk + body[position + 1 :]


valid_json_bytes = session_objects.map(lambda obj: json.dumps(obj).encode())
bodies = mostly(
    valid_json_bytes,
    st.one_of(
        json_values.map(lambda value: json.dumps(value).encode()),
        st.tuples(valid_json_bytes, st.integers(min_value=0), st.binary(max_size=3)).map(corrupt),
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    ),
)
content_types = mostly(
    st.sampled_from(["application/json", "application/json; charset=utf-8", 'Application/JSON;charset="UTF-8"']),
    st.sampled_from(
        [
            "application/json; charset=latin-1",
            "text/plain",
            "application/json, text/plain",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "",
        ]
    )
    | st.text(max_size=40)
    | st.none(),
)  # no Content-Type header at all
printable_ascii = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
idempotency_keys = mostly(
    st.none() | st.sampled_from(["retry-1", "retry-2"]),
    st.text(printable_ascii, min_size=1, max_size=40) | st.text(max_size=300),
)
header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)
extra_headers = st.dictionaries(header_names, st.text(max_size=40), max_size=4)
