"""Writing the catalog: a group, its members and its words, as seeding and `make import WORDS=` do."""

from typing import Any

from chalicelib.store.dynamo import Table
from chalicelib.store.items import group_item, member_item, word_item, word_key, word_text
from chalicelib.store.mapping import to_attributes


def put_group(table: Table, *, group_id: int, name: str, words: list[dict[str, Any]]) -> None:
    """Store a group and its words (overwriting their text, keeping the words' review counts and other groups;
    a word whose text changes gets it in its other groups' copies too)."""
    if len({word["id"] for word in words}) != len(words):
        raise ValueError(f"group {group_id} lists a word twice")
    items = [group_item(group_id=group_id, name=name, words_count=len(words))]
    stored = {
        item["PK"]: item
        for item in table.get_many(
            [word_key(word["id"]) for word in words],
            consistent=True,
            projection="PK, group_ids, kanji, romaji, english, parts",
        )
    }
    for word in words:
        items.append(member_item(group_id=group_id, word=word))
        previous = stored.get(word_key(word["id"])["PK"])
        if previous is None:
            # Only seeding creates words (reviews update existing ones), so a new word can be written whole.
            items.append(word_item(word=word, group_ids={group_id}))
            continue
        if "parts" not in previous or word_text(previous) != word_text(word):
            items += [
                member_item(group_id=int(other), word=word)
                for other in previous.get("group_ids", ())
                if int(other) != group_id
            ]
        fields = word_text(word)
        names = {f"#f{index}": field for index, field in enumerate(fields)}
        values = {f":f{index}": value for index, value in enumerate(fields.values())}
        table.update(
            word_key(word["id"]),
            UpdateExpression=(
                f"SET {', '.join(f'{name} = :{name[1:]}' for name in names)}, "
                "correct_count = if_not_exists(correct_count, :zero), "
                "wrong_count = if_not_exists(wrong_count, :zero) ADD group_ids :group"
            ),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_attributes({**values, ":zero": 0, ":group": {group_id}}),
        )
    table.put_items(items)
