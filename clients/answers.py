"""Answers through their schemas: a breach of an API's contract is a ContractError that names
the call and the field."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError

from clients.errors import ContractError


def contract_message(call: str, messages: Any) -> str:
    """`GET /x: entries[3].id: Missing data for required field.` from marshmallow's messages."""
    flat: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, sub in node.items():
                if isinstance(key, int):
                    walk(sub, f"{path}[{key}]")
                elif key == "_schema":
                    walk(sub, path)
                else:
                    walk(sub, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            flat.append(f"{path or '<body>'}: {' '.join(node)}")
        elif isinstance(node, list):
            for sub in node:
                walk(sub, path)
        else:
            flat.append(f"{path or '<body>'}: {node}")

    walk(messages, "")
    return f"{call}: " + "; ".join(flat)


_SCHEMAS: dict[type[Schema], Schema] = {}


def schema_of(cls: type[Schema]) -> Schema:
    """One instance of each answer schema for every client of the process."""
    inst = _SCHEMAS.get(cls)
    if inst is None:
        inst = _SCHEMAS[cls] = cls()
    return inst


def load(schema: Schema, data: Any, *, many: bool, call: str, api: str = "") -> Any:
    """Validate and convert an answer; a contract breach is a ContractError naming the field."""
    try:
        return schema.load(data, many=many, unknown=EXCLUDE)
    except ValidationError as exc:
        method, _, path = call.partition(" ")
        raise ContractError(
            contract_message(call, exc.messages), api=api, method=method, path=path
        ) from None
