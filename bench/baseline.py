"""The yardstick for POST /study_sessions: a naive DynamoDB port of the original Flask portal's POST
/api/study-sessions, as its own tiny Chalice app on the app's table.

The Flask portal checked the group and the activity exist (two SELECTs), INSERTed the session (SQLite's
autoincrement gave its id), then SELECTed it back joined with the group's and activity's names. Ported one statement
to one call: GetItem group, GetItem activity, UpdateItem ADD on a counter item (the autoincrement: one hot key every
create writes), PutItem the session, then GetItem session, group and activity for the joined answer. Seven requests;
`make bench` measures it beside the app's route. Its items (`BASELINE#...`) are no part of the app's data."""

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from chalice import Chalice, Response

from chalicelib.runtime import BOTO_CONFIG
from chalicelib.store.items import activity_key, group_key

app = Chalice(app_name="baseline")
COUNTER_KEY = {"PK": {"S": "BASELINE#COUNTER"}, "SK": {"S": "study_sessions"}}
_client: Any = None


def get_client() -> Any:
    """The DynamoDB client, built on first use with the app's Config."""
    global _client
    if _client is None:
        _client = boto3.client("dynamodb", config=BOTO_CONFIG)
    return _client


def _key(key: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"S": value} for name, value in key.items()}


def _get(key: dict[str, Any], *, consistent: bool = False) -> dict[str, Any] | None:
    return get_client().get_item(TableName=os.environ["TABLE_NAME"], Key=key, ConsistentRead=consistent).get("Item")


@app.route("/study_sessions", methods=["POST"])
def create_study_session() -> Response:
    """Create a session the way the Flask portal did, one DynamoDB call per SQL statement."""
    body = app.current_request.json_body or {}
    group_id, activity_id = int(body["group_id"]), int(body["study_activity_id"])
    table = os.environ["TABLE_NAME"]
    if _get(_key(group_key(group_id))) is None:
        return Response({"error": "Group not found"}, status_code=404)
    if _get(_key(activity_key(activity_id))) is None:
        return Response({"error": "Study activity not found"}, status_code=404)
    counter = get_client().update_item(
        TableName=table,
        Key=COUNTER_KEY,
        UpdateExpression="ADD last_id :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    session_id = int(counter["Attributes"]["last_id"]["N"])
    session_key = {"PK": {"S": f"BASELINE#SESSION#{session_id}"}, "SK": {"S": "META"}}
    get_client().put_item(
        TableName=table,
        Item={
            **session_key,
            "id": {"N": str(session_id)},
            "group_id": {"N": str(group_id)},
            "study_activity_id": {"N": str(activity_id)},
            "created_at": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")},
        },
    )
    # SQLite read its own write; here only a consistent read does.
    session = _get(session_key, consistent=True) or {}
    group = _get(_key(group_key(group_id))) or {}
    activity = _get(_key(activity_key(activity_id))) or {}
    return Response(
        {
            "id": int(session["id"]["N"]),
            "group_id": group_id,
            "group_name": group["name"]["S"],
            "study_activity_id": activity_id,
            "activity_name": activity["name"]["S"],
            "created_at": session["created_at"]["S"],
        },
        status_code=201,
    )
