"""The operator audit: who did what to which subject, when, and why.

Every action a person takes through the CLI or the console is recorded here, in the same
transaction as the action itself (an action that rolls back leaves no audit row, and an
audit row never describes something that did not happen).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.operator_models import OperatorAudit

MAX_REASON = 2000


class AuditError(ValueError):
    """An audit entry that cannot be recorded (no actor, no action)."""


def record(
    session: Session,
    actor: str,
    action: str,
    subject: str,
    reason: str | None = None,
    *,
    connection_id: str | None = None,
) -> OperatorAudit:
    """Add one entry (flushed, committed with the caller's transaction)."""
    actor, action = (actor or "").strip(), (action or "").strip()
    if not actor:
        raise AuditError("actor: required (who is acting?)")
    if not action:
        raise AuditError("action: required")
    row = OperatorAudit(
        actor=actor[:200],
        action=action[:64],
        subject=subject[:200],
        reason=(reason.strip()[:MAX_REASON] or None) if reason else None,
        connection_id=connection_id,
    )
    session.add(row)
    session.flush()
    return row


def recent(
    session: Session,
    limit: int = 100,
    *,
    subject: str | None = None,
    actor: str | None = None,
    connection_id: str | None = None,
    since: datetime | None = None,
) -> list[OperatorAudit]:
    """Entries newest first, optionally of one subject, actor or connection, or since a time."""
    q = select(OperatorAudit).order_by(OperatorAudit.at.desc(), OperatorAudit.id.desc())
    if subject is not None:
        q = q.where(OperatorAudit.subject == subject)
    if actor is not None:
        q = q.where(OperatorAudit.actor == actor)
    if connection_id is not None:
        q = q.where(OperatorAudit.connection_id == connection_id)
    if since is not None:
        q = q.where(OperatorAudit.at >= since)
    return list(session.execute(q.limit(limit)).scalars())
