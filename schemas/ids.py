"""Id fields that take exactly what PlentyONE sends and coerce nothing.

- Integer ids and counts are JSON integers: `1000.0`, `1e3` (a float once parsed) and `"1000"`
  are refused, whatever they would round to.
- Decimal ids (referrers like 104.01, statuses like 5.1) are JSON numbers, never strings.
- An id in a query string is plain digits with no sign, no leading zero and no space.
Used by the webhook schemas and by the configuration file alike.
"""

from __future__ import annotations

import math
import re
from typing import Any

from marshmallow import fields, validate

MAX_ID = 2**63 - 1
QUERY_ID = re.compile(r"^[1-9][0-9]{0,18}$", re.ASCII)
QUERY_ID_PATTERN = QUERY_ID.pattern


def integer_id(*, minimum: int = 0, maximum: int = MAX_ID, **kw: Any) -> fields.Integer:
    """A JSON integer in [minimum, maximum]; bools, floats and strings are refused."""
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kw)


class DecimalId(fields.Float):
    """A JSON number (an integer or a fraction, never a string or a bool), as a float."""

    default_error_messages = {"invalid": "must be a JSON number (not a string), e.g. 104.01"}

    def __init__(self, *, maximum: float = 1e9, **kw: Any) -> None:
        super().__init__(validate=validate.Range(min=0, max=maximum), **kw)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kw: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise self.make_error("invalid")
        return float(value)


class QueryId(fields.String):
    """An integer id given in a URL, `^[1-9][0-9]{0,18}$`, loaded as an int."""

    default_error_messages = {
        # make_error formats its message: the pattern's braces are doubled
        "invalid": "must be plain digits matching " + QUERY_ID_PATTERN.replace("{", "{{")
        .replace("}", "}}"),
        "range": f"must be at most {MAX_ID}",
    }

    def __init__(self, **kw: Any) -> None:
        metadata = {"pattern": QUERY_ID_PATTERN, **kw.pop("metadata", {})}
        super().__init__(metadata=metadata, **kw)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kw: Any) -> Any:
        # fullmatch with ASCII digits only: `$` would let a trailing newline through, and
        # str.isdigit() other scripts' digits.
        if not isinstance(value, str) or not QUERY_ID.fullmatch(value):
            raise self.make_error("invalid")
        number = int(value)
        if number > MAX_ID:
            raise self.make_error("range")
        return number
