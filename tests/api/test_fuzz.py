"""Property-based tests: whatever a client sends, POST /study_sessions and POST /study_sessions/{id}/review answer
201 or a 4xx in our JSON shape and a 4xx writes nothing; the GET routes answer 200, 400 or 404 with CORS and write
nothing, whatever their path ids and query strings, and their sorted lists come in the order sort_by and order name
(or the defaults). FUZZ_EXAMPLES sets the examples per test (default 200)."""

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from chalicelib.store.items import MAX_ID
from chalicelib.store.reviews import MAX_REVIEWS_PER_REQUEST
from chalicelib.web import MAX_PER_PAGE
from scripts.seed_data import GROUPS
from tests.support.dynamodb import scan_items
from tests.support.portal import PORTAL_ORIGIN, VALID
from tests.support.strategies import (
    EXAMPLES,
    bodies,
    content_types,
    corrupt,
    extra_headers,
    idempotency_keys,
    ids,
    json_values,
    mostly,
)

ANSWERS = {201, 400, 404, 413, 415, 422}

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The table fixture is shared by all examples on purpose: each compares before and after.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def send(
    api, body: bytes, content_type: str | None, key: str | None, extra: dict[str, str], path: str = "/study_sessions"
):
    headers = dict(extra)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.post(path, body=body, headers=headers)


def scanned_unless_nothing_was_sent(
    response: Any, calls: list[str], dynamodb: Any, table: str, before: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The table after a request: scanned, unless the request failed without the app sending a single write to
    DynamoDB (a write cannot happen without one; most of the fuzz's bad requests send nothing at all). A failure
    that did send one, a cancelled transaction say, is scanned like a success, and must have left the table as it
    was."""
    if response.status_code >= 400 and not set(calls) - READS:
        return before
    return scan_items(dynamodb, table)


@pytest.fixture
def last_scan(dynamodb, table) -> dict:
    """The table as the previous example left it: only the examples' own requests change it."""
    return {"items": scan_items(dynamodb, table)}


@FUZZ_SETTINGS
@given(body=bodies, content_type=content_types, key=idempotency_keys, extra=extra_headers)
def test_any_request_gets_201_or_a_4xx_json_error_and_a_4xx_writes_nothing(
    api, dynamodb_calls, dynamodb, table, last_scan, body, content_type, key, extra
):
    before = last_scan["items"]
    del dynamodb_calls[:]
    response = send(api, body, content_type, key, extra)
    after = last_scan["items"] = scanned_unless_nothing_was_sent(response, dynamodb_calls, dynamodb, table, before)
    event(f"answered {response.status_code}")
    assert response.status_code in ANSWERS
    assert response.headers["Content-Type"].startswith("application/json")
    answer = json.loads(response.body)
    if response.status_code >= 400:
        assert set(answer) == {"error"} and isinstance(answer["error"], str) and answer["error"]
        assert after == before
    else:
        assert dynamodb_calls  # the hook sees the app's calls, so a 4xx's empty list means it sent none
        stored = {item["PK"]: item for item in after}
        assert stored[f"SESSION#{answer['id']}"]["group_id"] == answer["group_id"]
        new = [item for item in after if item not in before]
        # The session and the key's record if a key was sent (a replay adds nothing), and the heads of its lists.
        assert len([item for item in new if item["PK"] != "COUNTERS"]) <= 2
        assert {item["SK"] for item in new if item["PK"] == "COUNTERS"} <= {"ALL", "GROUP#1", "GROUP#2", "ACTIVITY#1"}


REVIEW_ANSWERS = {201, 400, 404, 409, 413, 415, 422}
GET_ANSWERS = {200, 400, 404}
# The review test scans the table after every request, which costs moto about 0.1 s an example, so it runs half
# of FUZZ_EXAMPLES; the GET tests check the app's calls instead of scanning, and afford them all.
REVIEW_EXAMPLES = max(EXAMPLES // 2, 1)
GET_EXAMPLES = EXAMPLES
# Stand-ins for what only exists once a test has created it; each test's fixture maps them to the real values.
SESSION, NO_SESSION, CURSOR = "<session>", "<no such session>", "<cursor>"

junk_ids = st.sampled_from(
    ["abc", "0", "01", "-1", "+1", "1.0", "1e3", " 1", "", "١", str(MAX_ID), str(MAX_ID + 1), "9" * 40]
) | st.text(max_size=20)
session_path_ids = mostly(st.just(SESSION), st.just(NO_SESSION) | junk_ids)

word_ids = mostly(
    st.integers(min_value=1, max_value=6),  # group 1's words; the test's session is of group 1
    st.sampled_from([101, 999, MAX_ID, 0, -1, MAX_ID + 1, True, None, 1.0, "1"]) | json_values,
)
verdicts = mostly(st.booleans(), st.sampled_from([1, 0, "true", None]) | json_values)
good_singles = st.fixed_dictionaries({"word_id": st.integers(min_value=1, max_value=6), "correct": st.booleans()})
singles = mostly(
    good_singles,
    st.fixed_dictionaries(
        {"word_id": word_ids, "correct": verdicts}, optional={"is_correct": verdicts, "note": json_values}
    ),
)
good_batch_items = st.fixed_dictionaries(
    {"word_id": st.integers(min_value=1, max_value=6), "is_correct": st.booleans()}
)
batch_items = st.fixed_dictionaries({"word_id": word_ids, "is_correct": verdicts}, optional={"correct": verdicts})
batches = st.fixed_dictionaries(
    {
        "reviews": mostly(
            st.lists(good_batch_items, min_size=1, max_size=MAX_REVIEWS_PER_REQUEST),
            st.lists(batch_items, min_size=1, max_size=MAX_REVIEWS_PER_REQUEST)
            | st.lists(good_batch_items, min_size=MAX_REVIEWS_PER_REQUEST + 1, max_size=MAX_REVIEWS_PER_REQUEST + 5)
            | st.just([])
            | json_values,
        )
    }
)
review_objects = mostly(singles | batches, st.builds(lambda single, batch: {**single, **batch}, singles, batches))
valid_review_bytes = review_objects.map(lambda obj: json.dumps(obj).encode())
review_bodies = mostly(
    valid_review_bytes,
    st.one_of(
        json_values.map(lambda value: json.dumps(value).encode()),
        st.tuples(valid_review_bytes, st.integers(min_value=0), st.binary(max_size=3)).map(corrupt),
        st.binary(max_size=200),
        st.integers(min_value=65_000, max_value=66_000).map(
            lambda size: b'{"word_id": 1,' + b" " * size + b'"correct": true}'
        ),
    ),
)


@pytest.fixture
def review_target(api: Any, dynamodb: Any, table: str) -> dict[str, Any]:
    """A fresh session of group 1 to review, what the stand-ins stand for, and the table as it is now."""
    response = api.post(
        "/study_sessions", body=json.dumps(VALID).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201
    session_id = json.loads(response.body)["id"]
    return {
        "id": session_id,
        SESSION: str(session_id),
        NO_SESSION: str(session_id % MAX_ID + 1),
        "answers_by_key": {},
        "items": scan_items(dynamodb, table),
    }


def session_meta(items: list[dict[str, Any]], session_id: int) -> dict[str, Any]:
    """The session's own item among the table's items."""
    [meta] = [item for item in items if (item["PK"], item["SK"]) == (f"SESSION#{session_id}", "META")]
    return meta


@settings(FUZZ_SETTINGS, max_examples=REVIEW_EXAMPLES)
@given(path_id=session_path_ids, body=review_bodies, content_type=content_types, key=idempotency_keys)
def test_any_review_request_gets_201_or_a_4xx_json_error_and_only_a_new_201_moves_the_counts(
    api: Any,
    dynamodb_calls: list[str],
    dynamodb: Any,
    table: str,
    review_target: dict[str, Any],
    path_id: str,
    body: bytes,
    content_type: str | None,
    key: str | None,
) -> None:
    before = review_target["items"]
    path = f"/study_sessions/{quote(review_target.get(path_id, path_id), safe='')}/review"
    del dynamodb_calls[:]
    response = send(api, body, content_type, key, {}, path=path)
    after = review_target["items"] = scanned_unless_nothing_was_sent(response, dynamodb_calls, dynamodb, table, before)
    event(f"answered {response.status_code}")
    assert response.status_code in REVIEW_ANSWERS
    assert response.headers["Content-Type"].startswith("application/json")
    answer = json.loads(response.body)
    if response.status_code != 201:
        assert set(answer) == {"error"} and isinstance(answer["error"], str) and answer["error"]
        assert after == before
        return
    assert dynamodb_calls  # the hook sees the app's calls, so a 4xx's empty list means it sent none
    payload = json.loads(body)
    sent = (
        payload["reviews"]
        if "reviews" in payload
        else [{"word_id": payload["word_id"], "is_correct": payload["correct"]}]
    )
    logged = answer["reviews"] if "reviews" in payload else [{**answer, "is_correct": answer["correct"]}]
    assert [(review["word_id"], review["is_correct"]) for review in logged] == [
        (review["word_id"], review["is_correct"]) for review in sent
    ]
    old, new = session_meta(before, review_target["id"]), session_meta(after, review_target["id"])
    added = {count: new[count] - old[count] for count in ("review_items_count", "correct_count", "wrong_count")}
    answers_by_key = review_target["answers_by_key"]
    if key in answers_by_key:
        event("idempotent replay")
        assert answer == answers_by_key[key]
        assert after == before
        return
    correct = sum(review["is_correct"] for review in sent)
    assert added == {"review_items_count": len(sent), "correct_count": correct, "wrong_count": len(sent) - correct}
    assert len([item for item in after if item not in before and item["SK"] != "META"]) == 1 + (key is not None)
    if key is not None:
        answers_by_key[key] = answer


GET_ROUTES: dict[str, tuple[str, ...]] = {  # each GET route and the query parameters it reads
    "/study_sessions/{id}": (),
    "/study_sessions": ("limit", "cursor"),
    "/api/study-sessions": ("page", "per_page"),
    "/api/study-sessions/{id}": ("page", "per_page"),
    "/api/study-activities/{id}": (),
    "/api/study-activities/{id}/sessions": ("page", "per_page"),
    "/api/study-activities/{id}/launch": (),
    "/groups/{id}/words/raw": (),
    "/groups": ("page", "sort_by", "order"),
    "/groups/{id}": (),
    "/groups/{id}/words": ("page", "sort_by", "order"),
    "/groups/{id}/study_sessions": ("page", "sort_by", "order"),
    "/words": ("page", "sort_by", "order"),
    "/words/{id}": (),
    "/dashboard/recent-session": (),
    "/dashboard/stats": (),
    "/": (),
    "/health": (),
}
WORD_COLUMNS = {name: name for name in ("kanji", "romaji", "english", "correct_count", "wrong_count")}
# Each sorted list: its items' key in the answer, the field each sort_by key sorts by, the default key and order.
SORTED_LISTS: dict[str, tuple[str, dict[str, str], str, str]] = {
    "/groups": ("groups", {"name": "group_name", "words_count": "word_count"}, "name", "asc"),
    "/groups/{id}/words": ("words", WORD_COLUMNS, "kanji", "asc"),
    "/groups/{id}/study_sessions": (
        "study_sessions",
        {
            "startTime": "start_time",
            "endTime": "end_time",
            "activityName": "activity_name",
            "groupName": "group_name",
            "reviewItemsCount": "review_items_count",
        },
        "startTime",
        "desc",
    ),
    "/words": ("words", WORD_COLUMNS, "kanji", "asc"),
}
QUERY_MAXIMUM = {"page": MAX_ID, "per_page": MAX_PER_PAGE, "limit": MAX_PER_PAGE}
READS = {"GetItem", "BatchGetItem", "Query"}  # and never a Scan


def _as_cursor(text: str) -> str:
    """text in a cursor's wrapping (unpadded URL-safe base64), so decoding gets as far as the JSON inside."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# "0000000000000000000001000" is 1000: leading zeros push digits past a parser that reads only the first few.
zero_padded = st.tuples(st.integers(min_value=0, max_value=25), st.integers(min_value=0, max_value=10**25)).map(
    lambda padded: "0" * padded[0] + str(padded[1])
)
# Half junk, not mostly(): these are checked first, so junk costs no depth, and junk is what they are here for.
numbers = st.sampled_from(["1", "2", "3", "10", "100"]) | st.one_of(
    st.sampled_from(["0", "-1", "101", "1.5", "1e2", "", " 1", "١", str(MAX_ID), str(MAX_ID + 1)]),
    zero_padded,
    st.text(max_size=20),
)
cursors = st.one_of(
    st.just(CURSOR),
    st.text(max_size=40),
    json_values.map(json.dumps).map(_as_cursor),
    st.tuples(
        st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\+00:00", fullmatch=True)
        | json_values,
        ids,
    )
    .map(json.dumps)
    .map(_as_cursor),
    # Nesting deep enough for the JSON parser to give up, as bodies are checked for (validation.py); 5,000 is
    # past the stack Hypothesis gives a test (Lambda's is 1,000) and still a URL of under 7 KB.
    st.sampled_from([1, 10, 100, 1_000, 5_000]).map(lambda depth: _as_cursor("[" * depth)),
)
# Every list's keys (so most are another list's, which that list does not know), then near misses and junk.
sort_keys = st.sampled_from(sorted({key for _, columns, _, _ in SORTED_LISTS.values() for key in columns})) | st.one_of(
    st.sampled_from(["", "Kanji", "start_time", "id", "name ", "__class__", "get"]), st.text(max_size=20)
)
orders = (
    st.sampled_from(["asc", "desc"])
    | st.sampled_from(["", "ASC", "Desc", "descending", "asc,desc", "-1"])
    | st.text(max_size=10)
)
QUERY_VALUES = {
    "page": numbers,
    "per_page": numbers,
    "limit": numbers,
    "cursor": cursors,
    "sort_by": sort_keys,
    "order": orders,
}
get_path_ids = mostly(st.sampled_from([SESSION, "1", "2", "3", NO_SESSION]), junk_ids)


def query_values(route: str, name: str) -> st.SearchStrategy:
    """The values to send a route for one of its parameters: a sorted list's sort_by is mostly one of its own keys."""
    if name == "sort_by":
        return mostly(st.sampled_from(sorted(SORTED_LISTS[route][1])), sort_keys)
    return QUERY_VALUES[name]


def get_requests(routes: list[str]) -> st.SearchStrategy:
    """(route, path id, query) for one of routes, each query parameter it reads present or not."""
    return st.sampled_from(routes).flatmap(
        lambda route: st.tuples(
            st.just(route),
            get_path_ids if "{id}" in route else st.just(""),
            st.fixed_dictionaries({}, optional={name: query_values(route, name) for name in GET_ROUTES[route]}),
        )
    )


@pytest.fixture
def study_history(backend: str, dynamodb_calls: list[str], seeded: Any, api: Any) -> dict[str, Any]:
    """Two sessions in each group, the older one reviewed after the newer one began (so each list's orders differ),
    a third group (its name sorts last, its word count first, unlike the seed's two, and its words are in other
    groups too), and what the stand-ins stand for, such as a cursor the API gave."""
    seeded.put_group(group_id=3, name="Travel Phrases", words=[GROUPS[0]["words"][0], GROUPS[1]["words"][0]])
    session_ids = []
    for group_id in (1, 2, 1, 2):
        response = api.post(
            "/study_sessions",
            body=json.dumps({**VALID, "group_id": group_id}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 201
        session_ids.append(json.loads(response.body)["id"])
    for session_id, reviews in [(session_ids[0], [(1, True), (2, False)]), (session_ids[1], [(101, True)])]:
        response = api.post(
            f"/study_sessions/{session_id}/review",
            headers={"Content-Type": "application/json"},
            body=json.dumps(
                {"reviews": [{"word_id": word_id, "is_correct": correct} for word_id, correct in reviews]}
            ).encode(),
        )
        assert response.status_code == 201
    cursor = json.loads(api.get("/study_sessions?limit=1").body)["next_cursor"]
    assert cursor
    del dynamodb_calls[:]  # so a failing example's report lists only its own calls
    return {SESSION: str(session_ids[0]), NO_SESSION: str(session_ids[0] % MAX_ID + 1), CURSOR: cursor}


def check_get(
    api: Any,
    dynamodb_calls: list[str],
    known: dict[str, str],
    route: str,
    path_id: str,
    query: dict[str, str] | list[tuple[str, str]],
    answers: set[int] = GET_ANSWERS,
) -> None:
    """GET the route and check: one of answers, JSON with CORS, errors in our shape, numbers in range, a sorted list
    in its order, only reads. A query is a dict, or (name, value) pairs that may repeat a name.

    dynamodb_calls must be set up after backend: moto's mock starts a new default session, unhooked."""
    pairs = list(query.items()) if isinstance(query, dict) else query
    path = route.replace("{id}", quote(known.get(path_id, path_id), safe=""))
    if pairs:
        path += "?" + "&".join(
            f"{quote(name, safe='')}={quote(known.get(value, value), safe='')}" for name, value in pairs
        )
    del dynamodb_calls[:]
    response = api.get(path, headers={"Origin": PORTAL_ORIGIN})
    event(f"{route} answered {response.status_code}")
    assert response.status_code in answers, path[:200]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    answer = json.loads(response.body)
    if response.status_code != 200:
        assert set(answer) == {"error"} and isinstance(answer["error"], str) and answer["error"]
    else:
        read = {name: value for name, value in pairs if name in GET_ROUTES[route]}  # the last of a repeated name
        for name, value in read.items():
            if name in QUERY_MAXIMUM:
                assert value.isascii() and value.isdigit() and 1 <= int(value) <= QUERY_MAXIMUM[name], (name, value)
        if route in SORTED_LISTS:
            check_sorted_list(route, read, answer)
        # Every 200 but the service's own routes read the table, so the log below does see the app's calls.
        assert bool(dynamodb_calls) == (route not in ("/", "/health")), dynamodb_calls
    # The app's own calls: more exact, and far cheaper, than a Scan before and after each example.
    assert set(dynamodb_calls) <= READS, dynamodb_calls


def check_sorted_list(route: str, query: dict[str, str], answer: dict[str, Any]) -> None:
    """A sorted list's page: its envelope, and its items in the order sort_by and order name, or the defaults."""
    listed, columns, default_key, default_order = SORTED_LISTS[route]
    assert set(answer) == {listed, "total_pages", "current_page"} | ({"total_words"} if route == "/words" else set())
    assert answer["current_page"] == int(query.get("page", "1"))
    field = columns.get(query.get("sort_by", ""), columns[default_key])
    order = query.get("order") if query.get("order") in ("asc", "desc") else default_order
    values = [item[field] for item in answer[listed]]
    assert values == sorted(values, reverse=order == "desc"), (field, order)


@settings(FUZZ_SETTINGS, max_examples=GET_EXAMPLES)
@given(request=get_requests([route for route in GET_ROUTES if "{id}" in route]))
def test_any_path_id_gets_200_or_a_400_or_404_json_error_and_writes_nothing(
    backend: str,
    dynamodb_calls: list[str],
    api: Any,
    study_history: dict[str, str],
    request: tuple[str, str, dict[str, str]],
) -> None:
    check_get(api, dynamodb_calls, study_history, *request)


@settings(FUZZ_SETTINGS, max_examples=GET_EXAMPLES)
@given(request=get_requests([route for route, names in GET_ROUTES.items() if "page" in names]))
# Found by this test: answered 200 with per_page 101 (query_int checks only the first 20 digits).
@example(request=("/api/study-sessions", SESSION, {"per_page": "000000000000000000101"}))
def test_any_page_or_per_page_gets_200_or_a_400_or_404_json_error_and_writes_nothing(
    backend: str,
    dynamodb_calls: list[str],
    api: Any,
    study_history: dict[str, str],
    request: tuple[str, str, dict[str, str]],
) -> None:
    check_get(api, dynamodb_calls, study_history, *request)


@settings(FUZZ_SETTINGS, max_examples=GET_EXAMPLES)
@given(request=get_requests(["/study_sessions"]))
# Found by this test: answered 200 with limit 101, as above; and 500 for a deep cursor (RecursionError).
@example(request=("/study_sessions", SESSION, {"limit": "000000000000000000101"}))
@example(request=("/study_sessions", SESSION, {"cursor": _as_cursor("[" * 5_000)}))
def test_any_limit_or_cursor_gets_200_or_a_400_json_error_and_writes_nothing(
    backend: str,
    dynamodb_calls: list[str],
    api: Any,
    study_history: dict[str, str],
    request: tuple[str, str, dict[str, str]],
) -> None:
    check_get(api, dynamodb_calls, study_history, *request, answers={200, 400})


def sorted_list_requests() -> st.SearchStrategy:
    """(route, path id, query) for a sorted list, always with a sort_by: mostly one of its own keys, of a group with
    words and sessions, so that most examples compare a real order (the tests above send no sort_by too)."""
    return st.sampled_from(sorted(SORTED_LISTS)).flatmap(
        lambda route: st.tuples(
            st.just(route),
            mostly(st.sampled_from(["1", "2", "3"]), get_path_ids) if "{id}" in route else st.just(""),
            st.fixed_dictionaries(
                {"sort_by": query_values(route, "sort_by")},
                optional={"order": orders, "page": mostly(st.just("1"), numbers)},
            ),
        )
    )


@settings(FUZZ_SETTINGS, max_examples=GET_EXAMPLES)
@given(request=sorted_list_requests())
# The one sort the seed's two groups cannot tell from the default (by name): the third group can.
@example(request=("/groups", "", {"sort_by": "words_count", "order": "asc"}))
def test_any_sort_by_or_order_gets_a_list_in_that_order_or_the_default_one_or_a_json_error(
    backend: str,
    dynamodb_calls: list[str],
    api: Any,
    study_history: dict[str, str],
    request: tuple[str, str, dict[str, str]],
) -> None:
    check_get(api, dynamodb_calls, study_history, *request)


query_names = st.sampled_from(sorted(QUERY_VALUES)) | st.text(max_size=10)
query_pairs = st.lists(
    query_names.flatmap(lambda name: st.tuples(st.just(name), QUERY_VALUES.get(name, st.text(max_size=20)))), max_size=5
)


@settings(FUZZ_SETTINGS, max_examples=GET_EXAMPLES)
@given(route=st.sampled_from(sorted(GET_ROUTES)), path_id=get_path_ids, pairs=query_pairs)
def test_any_query_string_on_any_get_route_gets_200_or_a_400_or_404_json_error_and_writes_nothing(
    backend: str,
    dynamodb_calls: list[str],
    api: Any,
    study_history: dict[str, str],
    route: str,
    path_id: str,
    pairs: list[tuple[str, str]],
) -> None:
    """Any parameters, a route's own or not, repeated or not (the last one counts): the dashboard's routes too."""
    check_get(api, dynamodb_calls, study_history, route, path_id if "{id}" in route else "", pairs)
