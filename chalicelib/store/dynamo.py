"""A small public helper over the one DynamoDB table: the requests the data layer and the tools send go through it
(store/sessions.py's read before a create alone calls BatchGetItem itself: a key left unprocessed there is a 503, not
a retry), with DynamoDB's batch limits and the retry of what it leaves unprocessed named once."""

import time
from collections.abc import Iterator
from typing import Any

from chalicelib.store.errors import DatabaseBusyError, database_errors
from chalicelib.store.mapping import from_attributes, to_attributes
from chalicelib.store.table import LISTS_INDEX

BATCH_GET_LIMIT = 100  # keys in one BatchGetItem
BATCH_WRITE_LIMIT = 25  # puts and deletes in one BatchWriteItem
UNPROCESSED_ATTEMPTS = 5  # of a batch DynamoDB left partly unprocessed, before DatabaseBusyError


def unprocessed_pause(attempt: int) -> float:
    """Seconds to wait before sending again what a batch left unprocessed: 50 ms, doubling."""
    return 0.05 * 2.0**attempt  # a float power: int ** int is Any to mypy (a negative power is a float)


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """The list in consecutive pieces of at most `size`."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def kind_query(kind: str, **query: Any) -> dict[str, Any]:
    """The Query of the lists index for every item of a kind (SESSION, GROUP, WORD, ACTIVITY)."""
    return {
        "IndexName": LISTS_INDEX,
        "KeyConditionExpression": "GSI2PK = :kind",
        "ExpressionAttributeValues": {":kind": {"S": kind}},
        **query,
    }


class Table:
    """The table's requests, taking and returning plain dicts (mapping.to_attributes/from_attributes at the edge);
    DynamoDB's throttling and timeouts come out as the errors of chalicelib.store.errors."""

    def __init__(self, *, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def get(self, key: dict[str, str], *, consistent: bool = False) -> dict[str, Any] | None:
        """One item, or None."""
        with database_errors():
            response = self.client.get_item(TableName=self.name, Key=to_attributes(key), ConsistentRead=consistent)
        return from_attributes(response["Item"]) if "Item" in response else None

    def get_many(
        self,
        keys: list[dict[str, str]],
        *,
        consistent: bool = False,
        projection: str | None = None,
        names: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The items of any number of distinct keys (those that exist, in no order), BATCH_GET_LIMIT a request."""
        found: list[dict[str, Any]] = []
        for batch in chunks(keys, BATCH_GET_LIMIT):
            request: dict[str, Any] = {"Keys": [to_attributes(key) for key in batch], "ConsistentRead": consistent}
            if projection is not None:
                request["ProjectionExpression"] = projection
            if names is not None:
                request["ExpressionAttributeNames"] = names
            for attempt in range(UNPROCESSED_ATTEMPTS):
                with database_errors():
                    response = self.client.batch_get_item(RequestItems={self.name: request})
                found += [from_attributes(item) for item in response["Responses"].get(self.name, [])]
                request = response.get("UnprocessedKeys", {}).get(self.name)
                if not request:
                    break
                time.sleep(unprocessed_pause(attempt))
            else:
                raise DatabaseBusyError("BatchGetItem left keys unprocessed")
        return found

    def put(self, item: dict[str, Any], **conditions: Any) -> None:
        """PutItem; conditions are PutItem's own parameters (ConditionExpression, ...)."""
        with database_errors():
            self.client.put_item(TableName=self.name, Item=to_attributes(item), **conditions)

    def update(self, key: dict[str, str], **update: Any) -> None:
        """UpdateItem; update holds UpdateItem's own parameters (UpdateExpression, ...)."""
        with database_errors():
            self.client.update_item(TableName=self.name, Key=to_attributes(key), **update)

    def delete(self, key: dict[str, str], **conditions: Any) -> None:
        """DeleteItem; conditions are DeleteItem's own parameters."""
        with database_errors():
            self.client.delete_item(TableName=self.name, Key=to_attributes(key), **conditions)

    def put_items(self, items: list[dict[str, Any]]) -> None:
        """Write the items whole (overwriting), BATCH_WRITE_LIMIT a request."""
        for batch in chunks(items, BATCH_WRITE_LIMIT):
            self._write_batch([{"PutRequest": {"Item": to_attributes(item)}} for item in batch])

    def delete_keys(self, keys: list[dict[str, Any]]) -> None:
        """Delete the items of these keys (any other attributes of theirs ignored), BATCH_WRITE_LIMIT a request."""
        for batch in chunks(keys, BATCH_WRITE_LIMIT):
            self._write_batch(
                [{"DeleteRequest": {"Key": to_attributes({"PK": key["PK"], "SK": key["SK"]})}} for key in batch]
            )

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if not requests:
                return
            with database_errors():
                response = self.client.batch_write_item(RequestItems={self.name: requests})
            requests = response.get("UnprocessedItems", {}).get(self.name, [])
            time.sleep(unprocessed_pause(attempt) if requests else 0)
        raise DatabaseBusyError("BatchWriteItem left items unprocessed")

    def query_pages(self, **query: Any) -> Iterator[list[dict[str, Any]]]:
        """The pages (up to 1 MB each) of a Query; query holds Query's own parameters."""
        while True:
            with database_errors():
                response = self.client.query(TableName=self.name, **query)
            yield [from_attributes(item) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def query_all(self, *, limit: int | None = None, **query: Any) -> list[dict[str, Any]]:
        """Every item of a Query (or the first `limit`), following its pages."""
        items: list[dict[str, Any]] = []
        for page in self.query_pages(**query, **({"Limit": limit} if limit else {})):
            items += page
            if limit is not None and len(items) >= limit:
                return items[:limit]
        return items

    def partition(
        self, partition: str, *, consistent: bool = False, projection: str | None = None
    ) -> list[dict[str, Any]]:
        """Every item under one partition key, by sort key."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
        }
        if consistent:
            query["ConsistentRead"] = True
        if projection is not None:
            query["ProjectionExpression"] = projection
        return self.query_all(**query)

    def list_kind(self, kind: str, *, limit: int | None = None, **query: Any) -> list[dict[str, Any]]:
        """Every item of a kind (or the first `limit`) from the lists index, by its sort key; query adds Query's
        own parameters (ProjectionExpression, ScanIndexForward, ExclusiveStartKey, ...)."""
        return self.query_all(limit=limit, **kind_query(kind, **query))

    def list_kind_pages(self, kind: str, **query: Any) -> Iterator[list[dict[str, Any]]]:
        """The pages of list_kind's Query."""
        return self.query_pages(**kind_query(kind, **query))

    def transact(self, items: list[dict[str, Any]]) -> None:
        """TransactWriteItems of items already in DynamoDB's format (each names the table itself)."""
        with database_errors():
            self.client.transact_write_items(TransactItems=items)
