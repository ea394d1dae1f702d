"""Schemathesis hooks for tests/receiver/test_openapi_fuzz.py (loaded by SCHEMATHESIS_HOOKS).

Two rules of the document cannot be written in OpenAPI 3.0, only in its prose: the
connection in the path must exist, and `orderId` comes in the body or the query, one of the
two, equal when both are given. Every case gets the test's connection; positive cases (those
the document promises to accept) are made to follow the orderId rule. Negative cases are
left as generated: the receiver must refuse them.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

CONNECTION = os.environ.get("SPOCC_FUZZ_CONNECTION", "")
PER_EVENT = "/hooks/{connection_id}/{event}"


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if case.path_parameters and "connection_id" in case.path_parameters:
        case.path_parameters["connection_id"] = CONNECTION
    meta = getattr(case, "meta", None)
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and case.operation.path == PER_EVENT:
        query = dict(case.query or {})
        in_body = case.body.get("orderId") if isinstance(case.body, dict) else None
        if in_body is not None:
            if query.get("orderId") is not None:
                query["orderId"] = str(in_body)
        elif query.get("orderId") is None:
            query["orderId"] = "1"
        case.query = query
    return case
