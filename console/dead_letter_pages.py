"""The dead-letter inbox, one letter, and the audit: pages over `workers.dlq_actions`, the
same functions `spocc dlq` calls, so a page never does what the CLI cannot."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.auth import current_user, operator_required, safe_path
from store import audit as audit_log
from store.models import DeadLetter
from workers import dlq_actions, runtime

bp = Blueprint("dead_letters", __name__)

# The age filter's choices: name → (older_than, newer_than)
AGES: dict[str, tuple[timedelta | None, timedelta | None]] = {
    "": (None, None),
    "newer-1h": (None, timedelta(hours=1)),
    "newer-24h": (None, timedelta(hours=24)),
    "older-1h": (timedelta(hours=1), None),
    "older-24h": (timedelta(hours=24), None),
    "older-7d": (timedelta(days=7), None),
}
STATUS_CHOICES = ("open", "replayed", "resolved", "discarded", "all")


def _filters(source: dict[str, str]) -> tuple[dlq_actions.LetterFilter, dict[str, str]]:
    """The filter from the query (or a form), each bad value a 400 naming its field."""
    given = {k: (source.get(k) or "").strip() for k in ("connection", "task", "age", "status")}
    given["status"] = given["status"] or "open"
    if given["status"] not in STATUS_CHOICES:
        abort(400, f"status: one of {', '.join(STATUS_CHOICES)}")
    if given["age"] not in AGES:
        abort(400, f"age: one of {', '.join(a for a in AGES if a)}")
    older, newer = AGES[given["age"]]
    flt = dlq_actions.LetterFilter(
        status=None if given["status"] == "all" else given["status"],
        connection_id=given["connection"] or None,
        task=given["task"] or None,
        older_than=older,
        newer_than=newer,
    )
    return flt, given


def _actor() -> str:
    user = current_user()
    assert user is not None  # every route here is behind the login
    return f"console:{user.name}"


@bp.get("/dead-letters")
def inbox() -> str:
    flt, given = _filters(request.args)
    cause = request.args.get("cause") or None
    with runtime.db() as session:
        groups = dlq_actions.groups(session, flt)
        rows = dlq_actions.letters(session, flt, limit=200)
        if cause is not None:
            rows = [r for r in rows if dlq_actions.cause_key(r) == cause]
        connections = sorted(
            c or dlq_actions.NO_CONNECTION
            for c in session.execute(select(DeadLetter.connection_id).distinct()).scalars()
        )
        tasks = sorted(session.execute(select(DeadLetter.task_name).distinct()).scalars())
    return render_template(
        "dead_letters.html", groups=groups, letters=rows, given=given, cause=cause,
        connections=connections, tasks=tasks, ages=AGES, statuses=STATUS_CHOICES,
        error_type=dlq_actions.error_type,
    )


@bp.get("/dead-letters/<int:dead_letter_id>")
def letter(dead_letter_id: int) -> str:
    with runtime.db() as session:
        try:
            d = dlq_actions.detail(session, dead_letter_id)
        except dlq_actions.ActionError as exc:
            abort(404, str(exc))
    return render_template(
        "dead_letter.html", d=d, args=json.dumps(d.letter.args, indent=2),
        kwargs=json.dumps(d.letter.kwargs, indent=2), error_type=dlq_actions.error_type(d.letter),
    )


def _back(dead_letter_id: int | None = None) -> ResponseReturnValue:
    """Back to the page the action was taken on."""
    if dead_letter_id is not None:
        default = url_for("dead_letters.letter", dead_letter_id=dead_letter_id)
    else:
        default = url_for("dead_letters.inbox")
    return redirect(safe_path(request.form.get("back"), default))


def _reason(required: bool) -> str:
    reason = (request.form.get("reason") or "").strip()
    if required and not reason:
        abort(400, "reason: required (say why, for whoever reads the audit)")
    return reason


@bp.post("/dead-letters/<int:dead_letter_id>/replay")
@operator_required
def replay(dead_letter_id: int) -> ResponseReturnValue:
    reason = _reason(required=False) or None
    try:
        with runtime.db() as session:
            task_id = dlq_actions.replay_one(session, dead_letter_id, _actor(), reason)
    except dlq_actions.ActionError as exc:
        flash(str(exc), "error")
    else:
        flash(f"dead letter {dead_letter_id} replayed as task {task_id}", "ok")
    return _back(dead_letter_id)


@bp.post("/dead-letters/<int:dead_letter_id>/<any(discard, resolve):action>")
@operator_required
def close(dead_letter_id: int, action: str) -> ResponseReturnValue:
    reason = _reason(required=True)
    do = dlq_actions.discard if action == "discard" else dlq_actions.resolve
    try:
        with runtime.db() as session:
            do(session, dead_letter_id, _actor(), reason)
    except dlq_actions.ActionError as exc:
        flash(str(exc), "error")
    else:
        flash(f"dead letter {dead_letter_id} {action}ed: {reason}"[:300], "ok")
    return _back(dead_letter_id)


@bp.post("/dead-letters/groups/replay")
@operator_required
def replay_group() -> ResponseReturnValue:
    flt, _ = _filters(request.form)
    key = request.form.get("cause") or ""
    if not key:
        abort(400, "cause: required")
    try:
        with runtime.db() as session:
            sent = dlq_actions.replay_group(session, key, _actor(), flt, _reason(False) or None)
    except dlq_actions.ActionError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{len(sent)} dead letter(s) of {key} replayed", "ok")
    return _back()


@bp.post("/dead-letters/groups/<any(discard, resolve):action>")
@operator_required
def close_group(action: str) -> ResponseReturnValue:
    flt, _ = _filters(request.form)
    key = request.form.get("cause") or ""
    if not key:
        abort(400, "cause: required")
    reason = _reason(required=True)
    status = "discarded" if action == "discard" else "resolved"
    try:
        with runtime.db() as session:
            group = next((g for g in dlq_actions.groups(session, flt) if g.key == key), None)
            if group is None:
                raise dlq_actions.ActionError(f"no dead letter has the cause {key!r}")
            ids = group.ids
            dlq_actions.close_many(session, ids, _actor(), reason, status)
    except dlq_actions.ActionError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{len(ids)} dead letter(s) of {key} {status}", "ok")
    return _back()


@bp.get("/audit")
def audit() -> str:
    actor = request.args.get("actor") or None
    connection = request.args.get("connection") or None
    with runtime.db() as session:
        rows = audit_log.recent(session, 300, actor=actor, connection_id=connection)
    return render_template("audit.html", rows=rows, actor=actor or "", connection=connection or "")

