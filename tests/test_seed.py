"""The table definition and the seed data, on moto and on ministack."""
from chalicelib.seed import GROUPS, load_seed
from chalicelib.table import ALL_SESSIONS_INDEX, GROUP_SESSIONS_INDEX, create_table_if_missing
from conftest import scan_items


def test_create_table_if_missing_creates_the_keys_and_both_indexes_once(dynamodb, table):
    assert create_table_if_missing(dynamodb, table_name=table) is False
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]} == {"PK": "HASH", "SK": "RANGE"}
    indexes = {index["IndexName"]: {k["AttributeName"]: k["KeyType"] for k in index["KeySchema"]}
               for index in described["GlobalSecondaryIndexes"]}
    assert indexes == {GROUP_SESSIONS_INDEX: {"GSI1PK": "HASH", "GSI1SK": "RANGE"},
                       ALL_SESSIONS_INDEX: {"GSI2PK": "HASH", "GSI2SK": "RANGE"}}


def test_seed_holds_the_ids_and_names_the_portal_uses(dynamodb, table, repository):
    load_seed(repository)
    items = {(item["PK"], item["SK"]): item for item in scan_items(dynamodb, table)}
    assert items[("GROUP#1", "META")]["name"] == "Core Verbs"
    assert items[("GROUP#2", "META")]["name"] == "Core Adjectives"
    activity = items[("ACTIVITY#1", "META")]
    assert (activity["name"], activity["url"], activity["preview_url"]) == (
        "Typing Tutor", "http://localhost:8080", "/assets/study_activities/typing-tutor.png")


def test_seed_words_count_matches_the_words_stored_under_each_group(dynamodb, table, repository):
    load_seed(repository)
    items = scan_items(dynamodb, table)
    for group in GROUPS:
        key = f"GROUP#{group['group_id']}"
        words = [item for item in items if item["PK"] == key and item["SK"].startswith("WORD#")]
        [meta] = [item for item in items if item["PK"] == key and item["SK"] == "META"]
        assert len(words) >= 5 and meta["words_count"] == len(words)
        assert all(word["japanese"] and word["romaji"] and word["english"] for word in words)


def test_seed_twice_changes_nothing(dynamodb, table, repository):
    written = load_seed(repository)
    first = scan_items(dynamodb, table)
    assert load_seed(repository) == written == len(first)
    assert scan_items(dynamodb, table) == first
