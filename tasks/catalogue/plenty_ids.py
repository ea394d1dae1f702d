"""PlentyONE objects the sync creates once and then reuses by id: attributes, attribute values
and item images. Each is looked up (remembered in `catalogue_state`), else matched in
PlentyONE by name, else created — under a Redis lock per object, with the answer committed at
once, so two units needing the same colour value never create it twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from store.catalogue_models import CatalogueState
from tasks.catalogue import state
from tasks.catalogue.context import Context
from workers import runtime

LOCK_SECONDS = 120


@contextmanager
def _locked(ctx: Context, name: str) -> Iterator[None]:
    lock = runtime.redis_client().lock(
        f"spocc:{ctx.id}:catalogue:lock:{name}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS
    )
    if not lock.acquire():
        raise TimeoutError(f"lock {name} not acquired")
    try:
        yield
    finally:
        try:
            lock.release()
        except Exception:  # noqa: S110 - expired: whoever holds it now releases it
            pass


def remembered(ctx: Context, kind: str, key: str) -> CatalogueState | None:
    with runtime.db() as session:
        return state.get(session, ctx.id, kind, key)


def once(
    ctx: Context, kind: str, key: str, version: str, make: Callable[[], int]
) -> tuple[int, bool]:
    """The id of the object (kind, key) in the given `version`; `make` creates it when there
    is none or its version changed. Returns (id, whether it was made now)."""
    known = remembered(ctx, kind, key)
    if known is not None and known.hash == version and known.ref is not None:
        return int(known.ref), False
    with _locked(ctx, f"{kind}:{key}"):
        known = remembered(ctx, kind, key)
        if known is not None and known.hash == version and known.ref is not None:
            return int(known.ref), False
        ref = make()
        with runtime.db() as session:
            state.save(session, ctx.id, kind, key, version, ref=ref)
        return ref, True


def attribute_value(ctx: Context, attribute_id: int, name: str) -> int:
    """The id of the value `name` of PlentyONE attribute `attribute_id`, made if missing."""

    def make() -> int:
        for value in ctx.plenty.attribute_values(attribute_id):
            if value["backendName"] == name:
                return int(value["id"])
        return int(ctx.plenty.create_attribute_value(attribute_id, name)["id"])

    ref, _ = once(ctx, f"attrval:{attribute_id}", name, "1", make)
    return ref


def attribute(ctx: Context, name: str) -> int:
    def make() -> int:
        for existing in ctx.plenty.attributes():
            if existing["backendName"] == name:
                return int(existing["id"])
        return int(ctx.plenty.create_attribute(name)["id"])

    ref, _ = once(ctx, "attribute", name, "1", make)
    return ref
