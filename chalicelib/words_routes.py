"""Groups and words: the Word Groups, Group, Words and Word pages, and the Typing Tutor's word list."""

from chalice import Blueprint, Response

from chalicelib.presenters import page_of, present_group, present_session, total_pages
from chalicelib.runtime import get_repository
from chalicelib.web import answers_errors, json_response, parse_id, query_choice, query_descending, query_int

words = Blueprint(__name__)
GROUPS_PER_PAGE = GROUP_WORDS_PER_PAGE = GROUP_SESSIONS_PER_PAGE = 10
WORDS_PER_PAGE = 50
# The pages' column keys and the fields they sort by.
GROUP_SORTS = {"name": "name", "words_count": "words_count"}
WORD_SORTS = {name: name for name in ("kanji", "romaji", "english", "correct_count", "wrong_count")}
SESSION_SORTS = {
    "startTime": "created_at",
    "endTime": "end_time",
    "activityName": "activity_name",
    "groupName": "group_name",
    "reviewItemsCount": "review_items_count",
}


@words.route("/groups", methods=["GET"])
@answers_errors
def list_groups() -> Response:
    """The Word Groups page: groups sorted by name or word count, 10 a page."""
    page = query_int("page", 1)
    sort_by, descending = query_choice("sort_by", GROUP_SORTS, "name"), query_descending()
    groups = get_repository().list_groups(sort_by=sort_by, descending=descending)
    listed = page_of(groups, page=page, per_page=GROUPS_PER_PAGE)
    return json_response(
        {
            "groups": [present_group(group) for group in listed["items"]],
            "total_pages": listed["total_pages"],
            "current_page": page,
        }
    )


@words.route("/groups/{group_id}", methods=["GET"])
@answers_errors
def get_group(group_id: str) -> Response:
    """The Group page's heading."""
    return json_response(present_group(get_repository().get_group(group_id=parse_id(group_id))))


@words.route("/groups/{group_id}/words", methods=["GET"])
@answers_errors
def list_group_words(group_id: str) -> Response:
    """The Group page's words with their all-time counts, sorted by any column, 10 a page."""
    the_group_id, page = parse_id(group_id), query_int("page", 1)
    listed, total = get_repository().list_group_words(
        group_id=the_group_id,
        sort_by=query_choice("sort_by", WORD_SORTS, "kanji"),
        descending=query_descending(),
        page=page,
        per_page=GROUP_WORDS_PER_PAGE,
    )
    return json_response(
        {"words": listed, "total_pages": total_pages(total, GROUP_WORDS_PER_PAGE), "current_page": page}
    )


@words.route("/groups/{group_id}/words/raw", methods=["GET"])
@answers_errors
def list_group_words_raw(group_id: str) -> Response:
    """The Typing Tutor's word list: each word of the group with the parts it is spelled by."""
    group, group_words = get_repository().get_group_words(group_id=parse_id(group_id))
    return json_response({"group_id": group["id"], "group_name": group["name"], "words": group_words})


@words.route("/groups/{group_id}/study_sessions", methods=["GET"])
@answers_errors
def list_group_study_sessions(group_id: str) -> Response:
    """The Group page's sessions, newest first unless sorted otherwise, 10 a page."""
    the_group_id, page = parse_id(group_id), query_int("page", 1)
    sort_by, descending = query_choice("sort_by", SESSION_SORTS, "startTime"), query_descending(default=True)
    sessions, total = get_repository().list_group_sessions(
        group_id=the_group_id, sort_by=sort_by, descending=descending, page=page, per_page=GROUP_SESSIONS_PER_PAGE
    )
    return json_response(
        {
            "study_sessions": [present_session(session) for session in sessions],
            "total_pages": total_pages(total, GROUP_SESSIONS_PER_PAGE),
            "current_page": page,
        }
    )


@words.route("/words", methods=["GET"])
@answers_errors
def list_words() -> Response:
    """The Words page: the whole vocabulary sorted by any column, 50 a page."""
    page = query_int("page", 1)
    sort_by, descending = query_choice("sort_by", WORD_SORTS, "kanji"), query_descending()
    listed = page_of(
        get_repository().list_words(sort_by=sort_by, descending=descending), page=page, per_page=WORDS_PER_PAGE
    )
    return json_response(
        {
            "words": listed["items"],
            "total_pages": listed["total_pages"],
            "current_page": page,
            "total_words": listed["total"],
        }
    )


@words.route("/words/{word_id}", methods=["GET"])
@answers_errors
def get_word(word_id: str) -> Response:
    """The Word page: the word, its all-time counts and its groups."""
    return json_response({"word": get_repository().get_word(word_id=parse_id(word_id))})
