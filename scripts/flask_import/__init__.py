"""`make import`: the Flask portal's words.db, or one of its seed files, into the table (rules: apply.py's doc)."""
from scripts.flask_import.apply import (
    FlaskData,
    ForeignSessionsError,
    ImportInterruptedError,
    ImportSummary,
    InvalidSourceError,
    UnknownTimeZoneError,
    VerificationError,
    WordsSummary,
    counted,
    import_database,
    import_words,
    read_flask_database,
    read_seed_words,
    time_zone,
)

__all__ = ["FlaskData", "ForeignSessionsError", "ImportInterruptedError", "ImportSummary", "InvalidSourceError",
           "UnknownTimeZoneError", "VerificationError", "WordsSummary", "counted", "import_database", "import_words",
           "read_flask_database", "read_seed_words", "time_zone"]
