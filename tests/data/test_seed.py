"""The table definition and the seed data, on moto and on ministack."""

from chalicelib.store.table import (
    ACTIVITY_SESSIONS_INDEX,
    ALL_SESSIONS_INDEX,
    GROUP_SESSIONS_INDEX,
    TABLE_DEFINITION,
    add_missing_indexes,
    create_table_if_missing,
)
from scripts.seed_data import GROUPS, load_seed
from tests.support.dynamodb import scan_items


def test_create_table_if_missing_creates_the_keys_and_the_indexes_once(dynamodb, table):
    assert create_table_if_missing(dynamodb, table_name=table) is False
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]} == {"PK": "HASH", "SK": "RANGE"}
    indexes = {
        index["IndexName"]: {k["AttributeName"]: k["KeyType"] for k in index["KeySchema"]}
        for index in described["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        GROUP_SESSIONS_INDEX: {"GSI1PK": "HASH", "GSI1SK": "RANGE"},
        ALL_SESSIONS_INDEX: {"GSI2PK": "HASH", "GSI2SK": "RANGE"},
        ACTIVITY_SESSIONS_INDEX: {"GSI3PK": "HASH", "GSI3SK": "RANGE"},
    }


def test_a_table_saved_before_an_index_existed_gets_it_added(dynamodb, backend):
    # A developer's saved local state may hold the table as an older TABLE_DEFINITION made it.
    older = {
        **TABLE_DEFINITION,
        "GlobalSecondaryIndexes": TABLE_DEFINITION["GlobalSecondaryIndexes"][:2],
        "AttributeDefinitions": TABLE_DEFINITION["AttributeDefinitions"][:6],
    }
    dynamodb.create_table(TableName=f"older-{backend}", **older)
    assert create_table_if_missing(dynamodb, table_name=f"older-{backend}") is False
    described = dynamodb.describe_table(TableName=f"older-{backend}")["Table"]
    assert ACTIVITY_SESSIONS_INDEX in {index["IndexName"] for index in described["GlobalSecondaryIndexes"]}
    assert add_missing_indexes(dynamodb, table_name=f"older-{backend}") == []
    dynamodb.delete_table(TableName=f"older-{backend}")


def test_seed_holds_the_ids_and_names_the_portal_uses(dynamodb, table, repository):
    load_seed(repository)
    items = {(item["PK"], item["SK"]): item for item in scan_items(dynamodb, table)}
    assert items[("GROUP#1", "META")]["name"] == "Core Verbs"
    assert items[("GROUP#2", "META")]["name"] == "Core Adjectives"
    activity = items[("ACTIVITY#1", "META")]
    assert (activity["name"], activity["url"], activity["preview_url"]) == (
        "Typing Tutor",
        "http://localhost:8080",
        "/assets/study_activities/typing-tutor.png",
    )


def test_seed_words_count_matches_the_words_stored_under_each_group(dynamodb, table, repository):
    load_seed(repository)
    items = scan_items(dynamodb, table)
    items_by_key = {(item["PK"], item["SK"]): item for item in items}
    for group in GROUPS:
        key = f"GROUP#{group['group_id']}"
        words = [item for item in items if item["PK"] == key and item["SK"].startswith("WORD#")]
        [meta] = [item for item in items if item["PK"] == key and item["SK"] == "META"]
        assert len(words) >= 5 and meta["words_count"] == len(words)
        assert all(word["kanji"] and word["romaji"] and word["english"] for word in words)
        for word in words:  # the Typing Tutor spells each word by its parts
            assert "".join(part["kanji"] for part in word["parts"]) == word["kanji"]
            assert "".join("".join(part["romaji"]) for part in word["parts"]) == word["romaji"]
            assert items_by_key[(f"WORD#{int(word['word_id'])}", "META")]["group_ids"] == {group["group_id"]}


def test_seed_twice_changes_nothing(dynamodb, table, repository):
    written = load_seed(repository)
    first = scan_items(dynamodb, table)
    assert written == len(first)
    assert load_seed(repository) == 0
    assert scan_items(dynamodb, table) == first


def test_seeding_leaves_a_catalog_of_the_users_own_untouched(dynamodb, table, repository):
    # As after `make import`: group 1 is the user's, with other words; make dev seeds on every start.
    word = {
        "id": 7,
        "kanji": "払う",
        "romaji": "harau",
        "english": "to pay",
        "parts": [{"kanji": "払", "romaji": ["ha", "ra"]}, {"kanji": "う", "romaji": ["u"]}],
    }
    repository.put_group(group_id=1, name="My verbs", words=[word])
    repository.put_study_activity(
        study_activity_id=4, name="Flashcards", url="http://localhost:8081", preview_url="/flashcards.png"
    )
    before = scan_items(dynamodb, table)
    assert load_seed(repository) == 0
    assert scan_items(dynamodb, table) == before


def test_put_group_again_keeps_each_words_review_counts_and_its_other_groups(repository):
    load_seed(repository)
    session = repository.create_session(group_id=1, study_activity_id=1)
    repository.log_reviews(session_id=session["id"], reviews=[(1, True), (1, False)])
    verbs = next(group for group in GROUPS if group["group_id"] == 1)
    extra = {
        **verbs["words"][1],
        "id": 900,
        "kanji": "払う",
        "romaji": "harau",
        "english": "to pay",
        "parts": [{"kanji": "払", "romaji": ["ha", "ra"]}, {"kanji": "う", "romaji": ["u"]}],
    }
    repository.put_group(group_id=3, name="Shared", words=[verbs["words"][0], extra])
    repository.put_group(group_id=4, name="Also shared", words=[extra])
    repository.put_group(**verbs)
    words = {
        word["id"]: word
        for word in repository.table.get_many(
            [{"PK": "WORD#1", "SK": "META"}, {"PK": "WORD#900", "SK": "META"}], consistent=True
        )
    }
    assert (words[1]["correct_count"], words[1]["wrong_count"], words[1]["group_ids"]) == (1, 1, {1, 3})
    assert words[900]["group_ids"] == {3, 4} and words[900]["correct_count"] == 0


def test_put_group_with_a_words_new_spelling_updates_the_copies_its_other_groups_hold(repository):
    load_seed(repository)
    eat = GROUPS[0]["words"][0]
    repository.put_group(group_id=3, name="Favourites", words=[eat])
    respelled = {**eat, "parts": [{"kanji": "食", "romaji": ["ta"]}, {"kanji": "べる", "romaji": ["be", "ru"]}]}
    repository.put_group(group_id=4, name="Food", words=[respelled])
    copies = {group_id: repository.get_group_words(group_id=group_id)[1] for group_id in (1, 3, 4)}
    assert [next(word for word in copies[group_id] if word["id"] == 1)["parts"] for group_id in (1, 3, 4)] == [
        respelled["parts"]
    ] * 3
    assert [word["id"] for word in copies[4]] == [1]  # the other groups' copies, not their membership
