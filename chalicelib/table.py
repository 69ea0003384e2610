"""The table's key schema, in one place: local development, tests and seeding create it from here."""
from typing import Any

# Item types and their keys (the README has the same table in prose):
#   group           PK=GROUP#<id>     SK=META
#   word            PK=GROUP#<id>     SK=WORD#<word id, zero-padded>
#   study activity  PK=ACTIVITY#<id>  SK=META
#   study session   PK=SESSION#<id>   SK=META
#                   GSI1PK=GROUP#<group id>  GSI1SK=SESSION#<created_at>  (a group's sessions)
#                   GSI2PK=SESSION           GSI2SK=<created_at>          (all sessions)
#   idempotency key PK=IDEMPOTENCY#<sha256 of the key>  SK=CREATE_SESSION  (expires_at: TTL, epoch seconds)
GROUP_SESSIONS_INDEX = "GSI1"
ALL_SESSIONS_INDEX = "GSI2"
TTL_ATTRIBUTE = "expires_at"

_KEY_ATTRIBUTES = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")


def _keys(partition: str, sort: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": partition, "KeyType": "HASH"},
        {"AttributeName": sort, "KeyType": "RANGE"},
    ]


TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in _KEY_ATTRIBUTES],
    "KeySchema": _keys("PK", "SK"),
    "GlobalSecondaryIndexes": [
        {"IndexName": GROUP_SESSIONS_INDEX, "KeySchema": _keys("GSI1PK", "GSI1SK"),
         "Projection": {"ProjectionType": "ALL"}},
        {"IndexName": ALL_SESSIONS_INDEX, "KeySchema": _keys("GSI2PK", "GSI2SK"),
         "Projection": {"ProjectionType": "ALL"}},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def create_table_if_missing(client: Any, *, table_name: str) -> bool:
    """Create the table (its indexes, and TTL on TTL_ATTRIBUTE) unless it exists; return whether it was created."""
    try:
        client.create_table(TableName=table_name, **TABLE_DEFINITION)
    except client.exceptions.ResourceInUseException:
        return False
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(TableName=table_name,
                               TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    return True
