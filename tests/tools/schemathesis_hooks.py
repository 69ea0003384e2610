"""Loaded by make test's schemathesis run (SCHEMATHESIS_HOOKS; tests/tools/test_schemathesis.py), in schemathesis's own
virtualenv. JSON Schema's `integer` takes 5.0 too; the API takes ids only as JSON integers (docs/contract.md: `1.0`
is a 400), which a schema cannot say, so the run sends a whole number as an integer."""

from typing import Any

import schemathesis


def as_integers(value: Any) -> Any:
    """The value with every whole float in it (at any depth) an int."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [as_integers(item) for item in value]
    if isinstance(value, dict):
        return {key: as_integers(item) for key, item in value.items()}
    return value


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return as_integers(body)
