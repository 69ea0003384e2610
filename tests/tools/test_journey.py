"""The whole portal as its unchanged clients use it, against a real `make dev` on port 5000: every page of the
React frontend and the Typing Tutor (tests/support/journey.py)."""

from typing import Any

import pytest

from scripts.dev import start_dev_server, stop_dev_server
from scripts.local_stack import LOCAL_TABLE, dynamodb_client, endpoint_url, free_port
from tests.support.journey import walk_every_page


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, portal_port: int) -> Any:
    """`make dev` on port 5000 (another free port if a developer's own `make dev` holds it) with its own data."""
    place = tmp_path_factory.mktemp("journey")
    port = portal_port
    dynamodb_port = free_port()
    dev = start_dev_server(port=port, dynamodb_port=dynamodb_port, data_dir=place / "data", log_path=place / "dev.log")
    try:
        yield port, dynamodb_client(endpoint_url(dynamodb_port))
    finally:
        stop_dev_server(dev)


def test_a_learner_goes_through_every_page_of_the_portal_and_studies_a_group_through_the_unchanged_clients(portal):
    port, dynamodb = portal
    walk_every_page(port=port, dynamodb=dynamodb, table=LOCAL_TABLE)
