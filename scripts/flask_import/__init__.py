"""`make import`: the original Flask portal's SQLite file (words.db), or one of its seed files, into the table.

Why it works the way it does (docs/ has the long form):
- Nothing is written until everything is checked. The file is opened read-only; a file that is not SQLite, lacks a
  table or column, or holds a value the service cannot store (an id outside 1..2^53-1, parts that are not
  [{kanji, romaji: [str]}], a time that does not parse, correct not 0/1) is an InvalidSourceError: one line naming
  the table and row. parts NULL or '' is stored as [] with a warning.
- Times: the file's times have no offset; they are read as UTC unless a zone is given, because CURRENT_TIMESTAMP,
  the schema's default and what every Flask review got, is UTC. (Flask's POST /study_sessions stamped sessions
  with datetime.now(), the server's local time: a file from a server off UTC has sessions in that zone.) A
  session's end_time is its latest review, never before its start (the two clocks above may disagree).
- Counts are counted from word_review_items, the one record of each review. word_reviews and groups.words_count
  are caches (Flask's reset deleted the reviews and left word_reviews as it was): where they differ, a warning.
- Reviews keep the file's ids in their keys (suffix imported-<row id>), so a rerun addresses the same items.
- An import merges: the table's sessions the file lacks stay, with their reviews, and the file's are added with their
  ids; a file's session id that names another session in the table (another group, activity or start time) is a
  SessionConflictError before anything is written. The merged history is numbered afresh (numbering.py): every
  session's ordinals in its lists, and the lists' heads. Words' counts are the file's reviews' plus the kept
  sessions'.
- The catalog becomes the file's, except what the kept sessions refer to: groups, members, words and activities the
  file lacks are deleted (the seed that `make dev` wrote first, say), so the pages show what the Flask pages showed,
  unless a kept session is in that group or activity or reviewed that word (a kept group keeps its words). Where an
  id is in both, the file's content wins. An activity keeps its description (the file has none) if its name stays.
- Idempotent by diff: every item meant is read first (consistent BatchGetItem) and only those that differ are
  written (BatchWriteItem, unprocessed items retried). Stale reviews go before their session is rewritten, and
  sessions before their reviews, so a review is never stored without its session and an interrupted run leaves
  what the next one needs to find. Afterwards every item written is read back, and the counts of all the items
  (groups' words, words' against their sessions', sessions' against their reviews, the lists' index) are checked.
- A seed file's words join a group by name; a word with the same kanji, romaji and english keeps its id.
"""

from scripts.flask_import.apply import (
    ImportInterruptedError,
    ImportSummary,
    SessionConflictError,
    VerificationError,
    import_database,
)
from scripts.flask_import.bulk import counted
from scripts.flask_import.source import (
    FlaskData,
    InvalidSourceError,
    UnknownTimeZoneError,
    read_flask_database,
    read_seed_words,
    time_zone,
)
from scripts.flask_import.words import WordsSummary, import_words

__all__ = [
    "FlaskData",
    "SessionConflictError",
    "ImportInterruptedError",
    "ImportSummary",
    "InvalidSourceError",
    "UnknownTimeZoneError",
    "VerificationError",
    "WordsSummary",
    "counted",
    "import_database",
    "import_words",
    "read_flask_database",
    "read_seed_words",
    "time_zone",
]
