"""The data layer: the portal's one DynamoDB table, with no web framework in it (tests/unit checks no module here
imports Chalice).

  repository.py  StudyRepository: the verbs the routes call (create_session, log_reviews, list_..., get_..., reset)
  dynamo.py      Table: get, get_many, put, update, delete, put_items, delete_keys, query_pages, query_all,
                 partition, list_kind, list_kind_pages, transact; DynamoDB's batch limits and the unprocessed retry
  sessions.py    writing a new session (and its Idempotency-Key)   reviews.py  the review transaction, cancellations
  catalog.py     writing a group and its words                      reset.py    the Settings page's reset
  stats.py       the dashboard's arithmetic                         idempotency.py  Idempotency-Key records
  references.py  the reference cache's entries by kind
  items.py       keys and item builders, ids and times             table.py    the key schema and its indexes
  mapping.py     items to plain dicts (typed), attributes, order and cursors
  errors.py      the named errors, and database_errors()
Tools (scripts/, bench/) use these modules' public names, never one starting with _."""

from chalicelib.store.dynamo import Table
from chalicelib.store.repository import StudyRepository

__all__ = ["StudyRepository", "Table"]
