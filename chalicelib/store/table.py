"""The table's key schema, in one place: local development, tests and seeding create it from here."""

from typing import Any

# Item types and their keys (docs/design.md has the same table in prose); <n> is an id zero-padded to 10 digits:
#   group            PK=GROUP#<id>     SK=META                 GSI2PK=GROUP     GSI2SK=<n>  (all groups)
#   group member     PK=GROUP#<id>     SK=WORD#<n>             (a copy of the word's text and parts)
#   word             PK=WORD#<id>      SK=META                 GSI2PK=WORD      GSI2SK=<n>  (all words)
#                    (all-time correct_count/wrong_count, group_ids)
#   study activity   PK=ACTIVITY#<id>  SK=META                 GSI2PK=ACTIVITY  GSI2SK=<n>  (all activities)
#   study session    PK=SESSION#<id>   SK=META  (counts, and per word of the session correct#<w>/wrong#<w>)
#                    GSI1PK=GROUP#<group id>        GSI1SK=SESSION#<created_at>  (a group's sessions)
#                    GSI2PK=SESSION                 GSI2SK=<created_at>          (all sessions)
#                    GSI3PK=ACTIVITY#<activity id>  GSI3SK=<created_at>          (an activity's sessions)
#   review           PK=SESSION#<id>   SK=REVIEW#<created_at>#<random>  (the reviews one request logged)
#   idempotency key  PK=IDEMPOTENCY#<sha256 of the key>  SK=CREATE_SESSION or REVIEW  (expires_at: TTL)
GROUP_SESSIONS_INDEX = "GSI1"
ALL_SESSIONS_INDEX = "GSI2"
LISTS_INDEX = ALL_SESSIONS_INDEX  # GSI2 lists every item of a kind: SESSION, GROUP, WORD, ACTIVITY
ACTIVITY_SESSIONS_INDEX = "GSI3"
TTL_ATTRIBUTE = "expires_at"

_KEY_ATTRIBUTES = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK")


def _keys(partition: str, sort: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": partition, "KeyType": "HASH"},
        {"AttributeName": sort, "KeyType": "RANGE"},
    ]


def _index(name: str) -> dict[str, Any]:
    return {"IndexName": name, "KeySchema": _keys(f"{name}PK", f"{name}SK"), "Projection": {"ProjectionType": "ALL"}}


TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in _KEY_ATTRIBUTES],
    "KeySchema": _keys("PK", "SK"),
    "GlobalSecondaryIndexes": [
        _index(GROUP_SESSIONS_INDEX),
        _index(ALL_SESSIONS_INDEX),
        _index(ACTIVITY_SESSIONS_INDEX),
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def create_table_if_missing(client: Any, *, table_name: str) -> bool:
    """Create the table (its indexes, and TTL on TTL_ATTRIBUTE) unless it exists; return whether it was created.

    A table made before an index was added to TABLE_DEFINITION (a saved local state) gets the index added."""
    try:
        client.create_table(TableName=table_name, **TABLE_DEFINITION)
    except client.exceptions.ResourceInUseException:
        add_missing_indexes(client, table_name=table_name)
        return False
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    return True


def add_missing_indexes(client: Any, *, table_name: str) -> list[str]:
    """Add the indexes of TABLE_DEFINITION the table lacks; return their names."""
    table = client.describe_table(TableName=table_name)["Table"]
    present = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    missing = [index for index in TABLE_DEFINITION["GlobalSecondaryIndexes"] if index["IndexName"] not in present]
    for index in missing:  # DynamoDB adds one index per UpdateTable
        client.update_table(
            TableName=table_name,
            AttributeDefinitions=TABLE_DEFINITION["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
    return [index["IndexName"] for index in missing]
