"""The configuration in the database: the source of truth every process reads.

`connections.config` holds the applied document without its secrets; each secret is a
`connection_secrets` row, encrypted. A file that carries the mask (as `spocc config show`
prints it) or leaves a secret out keeps the stored value.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Sequence
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.config import (
    MASK,
    SECRET_FIELDS,
    ConfigError,
    ConnectionConfig,
    load_config,
    load_connection,
)
from schemas.secret import Secret
from store import audit
from store.models import Connection
from store.operator_models import ConfigRevision
from store.secrets import SecretBox, load_secrets, secret_names, store_secret


class UnknownConnection(LookupError):
    pass


class UnknownRevision(LookupError):
    pass


def _get(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _pop(doc: dict[str, Any], dotted: str) -> Any:
    *parents, leaf = dotted.split(".")
    node: Any = doc
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node.pop(leaf, None) if isinstance(node, dict) else None


def _split_secrets(conn_doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Secret]]:
    plain = copy.deepcopy(conn_doc)
    secrets: dict[str, Secret] = {}
    for name in SECRET_FIELDS:
        value = _pop(plain, name)
        if value is None or value == MASK:
            continue
        secrets[name] = value if isinstance(value, Secret) else Secret(str(value))
    return plain, secrets


def _with_stored_secrets(conn_doc: dict[str, Any], stored: dict[str, Secret]) -> dict[str, Any]:
    """The file's secrets where it gives them, the stored ones where it carries the mask."""
    doc = copy.deepcopy(conn_doc)
    for name in SECRET_FIELDS:
        value = _get(doc, name)
        if (value is None or value == MASK) and name in stored:
            _set(doc, name, stored[name])
    return doc


def apply(session: Session, box: SecretBox, document: Any, actor: str = "system") -> list[str]:
    """Validate and store a whole configuration file; returns the diff that was applied.

    Nothing is written unless every connection validates. Each connection whose stored
    configuration changes gets a new revision, kept with `actor` (who applied it).
    """
    if not isinstance(document, dict) or not isinstance(document.get("connections"), list):
        load_config(document)  # raises the error naming what is wrong
        raise ConfigError(["connections: must be a list"])
    docs = [d if isinstance(d, dict) else {} for d in document["connections"]]
    merged = {
        "connections": [
            _with_stored_secrets(d, _stored_secrets(session, box, d.get("id"))) for d in docs
        ]
    }
    connections = load_config(merged)
    changes = diff(session, box, document)
    for config, doc in zip(connections, docs, strict=True):
        plain, secrets = _split_secrets(doc)
        row = session.get(Connection, config.id)
        before = _stored_secrets(session, box, config.id)
        changed = sorted(n for n, v in secrets.items() if before.get(n) != v)
        # a file carrying unchanged secrets in clear is not a new revision
        revised = row is None or row.config != plain or bool(changed)
        if row is None:
            row = Connection(
                id=config.id,
                name=config.name,
                test_mode=config.test_mode,
                config=plain,
                revision=1,
                paused=False,
                paused_processes=[],
            )
            session.add(row)
        elif revised:
            row.config, row.name, row.test_mode = plain, config.name, config.test_mode
            row.revision += 1
        session.flush()
        for name, value in secrets.items():
            store_secret(session, box, config.id, name, value)
        if revised:
            _record_revision(session, row, actor, changed)
    return changes


def _record_revision(session: Session, row: Connection, actor: str, changed: list[str]) -> None:
    session.add(
        ConfigRevision(
            connection_id=row.id,
            revision=row.revision,
            actor=actor,
            config=copy.deepcopy(row.config),
            secrets_set=sorted(secret_names(session, row.id)),
            secrets_changed=changed,
        )
    )
    audit.record(
        session, actor, "config.apply", f"connection:{row.id}", f"revision {row.revision}",
        connection_id=row.id,
    )
    session.flush()


def history(session: Session, connection_id: str, limit: int = 50) -> list[ConfigRevision]:
    """The applied revisions of a connection, newest first: who applied which, and when."""
    return list(
        session.execute(
            select(ConfigRevision)
            .where(ConfigRevision.connection_id == connection_id)
            .order_by(ConfigRevision.revision.desc())
            .limit(limit)
        ).scalars()
    )


def revision_diff(
    session: Session, connection_id: str, revision: int, against: int | None = None
) -> list[str]:
    """A unified diff from revision `against` (default: the one before) to `revision`.

    Secrets appear only as the mask, marked where the newer revision changed them.
    """
    newer = _revision(session, connection_id, revision)
    if against is None:
        older = session.execute(
            select(ConfigRevision)
            .where(
                ConfigRevision.connection_id == connection_id,
                ConfigRevision.revision < revision,
            )
            .order_by(ConfigRevision.revision.desc())
            .limit(1)
        ).scalar_one_or_none()
    else:
        older = _revision(session, connection_id, against)

    def text(rev: ConfigRevision | None, changed: Sequence[str] = ()) -> list[str]:
        if rev is None:
            return []
        doc = copy.deepcopy(rev.config)
        for name in rev.secrets_set:
            _set(doc, name, f"{MASK} (changed)" if name in changed else MASK)
        return yaml.safe_dump(doc, sort_keys=True).splitlines()

    def label(rev: ConfigRevision | None) -> str:
        if rev is None:
            return f"{connection_id} (nothing before)"
        when = f"{rev.applied_at:%Y-%m-%d %H:%M:%S} UTC"
        return f"{connection_id} revision {rev.revision} ({rev.actor}, {when})"

    return list(
        difflib.unified_diff(
            text(older),
            text(newer, newer.secrets_changed),
            label(older),
            label(newer),
            lineterm="",
        )
    )


def _revision(session: Session, connection_id: str, revision: int) -> ConfigRevision:
    row = session.execute(
        select(ConfigRevision).where(
            ConfigRevision.connection_id == connection_id, ConfigRevision.revision == revision
        )
    ).scalar_one_or_none()
    if row is None:
        raise UnknownRevision(f"connection {connection_id} has no recorded revision {revision}")
    return row


def _stored_secrets(session: Session, box: SecretBox, connection_id: Any) -> dict[str, Secret]:
    if not isinstance(connection_id, str) or session.get(Connection, connection_id) is None:
        return {}
    return load_secrets(session, box, connection_id)


def diff(session: Session, box: SecretBox, document: dict[str, Any]) -> list[str]:
    """A unified diff of stored versus file, per connection; secrets only as set/changed."""
    lines: list[str] = []
    for doc in document.get("connections", []):
        if not isinstance(doc, dict):
            continue
        conn_id = str(doc.get("id"))
        row = session.get(Connection, conn_id)
        stored = _stored_secrets(session, box, conn_id)
        new_plain, new_secrets = _split_secrets(doc)
        for name, value in new_secrets.items():
            _set(
                new_plain,
                name,
                f"{MASK} (unchanged)" if stored.get(name) == value else f"{MASK} (new value)",
            )
        for name in set(stored) - set(new_secrets):
            _set(new_plain, name, f"{MASK} (unchanged)")
        old_plain = copy.deepcopy(row.config) if row is not None else {}
        for name in stored:
            _set(old_plain, name, f"{MASK} (unchanged)")
        old_text = yaml.safe_dump(old_plain, sort_keys=True).splitlines() if row else []
        new_text = yaml.safe_dump(new_plain, sort_keys=True).splitlines()
        lines.extend(
            difflib.unified_diff(
                old_text, new_text, f"stored/{conn_id}", f"file/{conn_id}", lineterm=""
            )
        )
    return lines


def load(session: Session, box: SecretBox, connection_id: str) -> ConnectionConfig:
    row = session.get(Connection, connection_id)
    if row is None:
        raise UnknownConnection(connection_id)
    doc = _with_stored_secrets(row.config, load_secrets(session, box, connection_id))
    return load_connection(doc)


def connection_ids(session: Session) -> list[str]:
    return list(session.execute(select(Connection.id).order_by(Connection.id)).scalars())


def show(session: Session) -> dict[str, Any]:
    """The stored configuration as a file, every secret that is set shown as the mask."""
    out = []
    for row in session.execute(select(Connection).order_by(Connection.id)).scalars():
        doc = copy.deepcopy(row.config)
        for name in secret_names(session, row.id):
            _set(doc, name, MASK)
        out.append(doc)
    return {"connections": out}


def remove(session: Session, connection_id: str, actor: str, reason: str | None = None
           ) -> list[str]:
    """Remove the connection and every row of it (the audit keeps who removed it and why);
    returns the tables that lost rows. Its Redis keys and queued work are the caller's
    (`workers.purge.forget_in_redis`), after the commit."""
    from store import purge

    row = session.get(Connection, connection_id)
    if row is None:
        raise UnknownConnection(connection_id)
    emptied = purge.delete_rows(session, [connection_id], keep=frozenset({"operator_audit"}))
    session.delete(row)
    audit.record(session, actor, "connection.remove", f"connection:{connection_id}", reason,
                 connection_id=connection_id)
    return [*emptied, "connections"]
