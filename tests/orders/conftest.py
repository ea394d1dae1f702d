"""The real stack for order events: both sandboxes, a stored connection, the receiver
under gunicorn and real workers on the `orders` queue."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from sandboxes.catalogue import Catalogue
from tests.receiver.conftest import Receiver, start_receiver
from tests.support.processes import wait_until

TOKEN = "demo-webhook-token-0123456789"
SIGNING_SECRET = "whsec_ZGVtby1zaWduaW5nLXNlY3JldC0wMTIzNDU2Nzg5"
_TOKEN_LOCK = threading.Lock()
SETTLED = ("done", "refused", "blocked", "waiting", "dead")
STOCKED = 40
BILLING = {"firstName": "Ada", "lastName": "Lovelace", "street": "Hauptstraße",
           "houseNumber": "1", "postalCode": "10115", "town": "Berlin", "countryId": 1,
           "email": "ada@example.com"}


@dataclass
class World:
    conn: Any
    sandboxes: Any
    receiver: Receiver
    http: requests.Session

    @property
    def plenty(self) -> str:
        return self.sandboxes.plenty_url

    @property
    def spocc(self) -> str:
        return self.sandboxes.spocc_url

    def spocc_ids(self, n: int) -> list[str]:
        return [v.spocc_id for v in Catalogue().variations(0, n)]

    def set_stock(self, spocc_id: str, on_hand: int) -> None:
        self.http.post(f"{self.spocc}/__admin/stock",
                       json={"spoccId": spocc_id, "onHand": on_hand}, timeout=10
                       ).raise_for_status()

    def create_order(self, lines: list[dict[str, Any]], *, referrer: float = 104.01,
                     warehouse: int = 1, billing: dict[str, Any] | None = None,
                     fire: bool = False) -> int:
        answer = self.http.post(f"{self.plenty}/__admin/orders", json={
            "referrerId": referrer, "warehouseId": warehouse, "statusId": 5, "lines": lines,
            "addresses": {"billing": billing or BILLING}, "fireEvents": fire}, timeout=10)
        answer.raise_for_status()
        return int(answer.json()["id"])

    def create_return(self, order_id: int, reason: int | None = 2) -> int:
        order = self.plenty_order(order_id)
        body: dict[str, Any] = {"quantities": [
            {"orderItemId": i["id"], "quantity": i["quantity"]} for i in order["orderItems"]]}
        if reason is not None:
            body["returnReasonId"] = reason
        token = self.plenty_token()
        answer = self.http.post(f"{self.plenty}/rest/orders/{order_id}/returns", json=body,
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
        answer.raise_for_status()
        return int(answer.json()["id"])

    def plenty_token(self) -> str:
        """One login for the whole test (the account allows few sessions)."""
        with _TOKEN_LOCK:
            token = getattr(self, "_token", None)
            if token is None:
                token = self._token = self._login()
            return str(token)

    def _login(self) -> str:
        answer = self.http.post(f"{self.plenty}/rest/login", json={
            "username": "spocc-demo", "password": "demo-password"}, timeout=10)
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def plenty_order(self, order_id: int) -> dict[str, Any]:
        token = self.plenty_token()
        answer = self.http.get(f"{self.plenty}/rest/orders/{order_id}",
                               params={"with[]": ["orderItems", "shippingPackages"]},
                               headers={"Authorization": f"Bearer {token}"}, timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def deliver(self, event: str, order_id: int, *, signed: bool = False,
                msg_id: str | None = None) -> requests.Response:
        return signed_post(self.receiver.url, self.conn.id, event, order_id, signed, msg_id,
                           full=True)

    def reconfigure(self, **changes: Any) -> None:
        """Apply the connection again with top-level sections changed (rules, acceptance…)."""
        from store import config_store
        from tests.conftest import connection_document
        from workers import runtime

        doc = connection_document(self.conn.id, self.plenty, self.spocc, **changes)
        with runtime.db() as session:
            config_store.apply(session, runtime.secret_box(), doc)
        self.conn = runtime.connection(self.conn.id)

    def faults(self, *rules: dict[str, Any]) -> None:
        self.http.post(f"{self.spocc}/__admin/faults", json={"seed": 1, "rules": list(rules)},
                       timeout=10).raise_for_status()

    def ledger(self, kind: str | None = None) -> list[dict[str, Any]]:
        params = {"kind": kind} if kind else {}
        answer = self.http.get(f"{self.spocc}/__admin/ledger", params=params, timeout=30)
        answer.raise_for_status()
        return list(answer.json()["entries"])

    def plenty_ledger(self, kind: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.plenty}/__admin/ledger", params={"kind": kind},
                               timeout=30)
        answer.raise_for_status()
        return list(answer.json()["entries"])

    def delivery_statuses(self) -> dict[int, str]:
        from sqlalchemy import select

        from store.models import EventDelivery
        from workers import runtime

        with runtime.db() as session:
            return dict(session.execute(select(EventDelivery.id, EventDelivery.status).where(
                EventDelivery.connection_id == self.conn.id)).all())

    def unsettled_deliveries(self) -> list[tuple[int, str, int, str, int, str | None]]:
        """Every delivery not done, with what a failed assertion needs to name its cause:
        (id, event, order, status, attempts, last error), and each one's attempt rows."""
        from sqlalchemy import select

        from store.models import Attempt, EventDelivery
        from workers import runtime

        with runtime.db() as session:
            rows = session.execute(select(
                EventDelivery.id, EventDelivery.event_type, EventDelivery.order_id,
                EventDelivery.status, EventDelivery.attempts, EventDelivery.last_error).where(
                EventDelivery.connection_id == self.conn.id,
                EventDelivery.status != "done")).all()
            out = [tuple(row) for row in rows]
            for row in rows:
                tries = session.execute(select(Attempt.task_id, Attempt.outcome, Attempt.error)
                                        .where(Attempt.subject == f"delivery:{row[0]}")
                                        .order_by(Attempt.id)).all()
                print(f"delivery {row[0]} attempts: {[tuple(t) for t in tries]}")
        return out  # type: ignore[return-value]

    def state(self, order_id: int) -> Any:
        from sqlalchemy import select

        from store.order_models import OrderState
        from workers import runtime

        with runtime.db() as session:
            return session.execute(select(OrderState).where(
                OrderState.connection_id == self.conn.id,
                OrderState.plenty_order_id == order_id)).scalar_one_or_none()

    def wait_settled(self, timeout: float = 60) -> dict[int, str]:
        """Until no delivery of the connection is pending, running, failed or held, and no
        status write-back is pending (a count, polled twice a second: the sandboxes share
        this process's GIL)."""
        from sqlalchemy import func, select

        from store.models import EventDelivery
        from store.order_models import PENDING, OrderWriteback
        from workers import runtime

        def unsettled() -> int:
            with runtime.db() as session:
                return int(session.execute(select(func.count()).where(
                    EventDelivery.connection_id == self.conn.id,
                    EventDelivery.status.not_in(SETTLED))).scalar_one()) + int(
                    session.execute(select(func.count()).where(
                        OrderWriteback.connection_id == self.conn.id,
                        OrderWriteback.state == PENDING)).scalar_one())

        deadline = time.monotonic() + timeout
        while unsettled() or not self.delivery_statuses():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s: {unsettled()} events "
                                     "not applied")
            time.sleep(0.5)
        return self.delivery_statuses()


def signed_post(hook_base: str, conn_id: str, event: str, order_id: int, signed: bool,
                msg_id: str | None, full: bool = False) -> Any:
    """Deliver one event as PlentyONE (bearer token) or a signing relay (Standard Webhooks)."""
    url = f"{hook_base}/hooks/{conn_id}/{event}"
    body = json.dumps({"orderId": order_id, "event": event}).encode()
    if signed:
        from datetime import UTC, datetime

        msg = msg_id or f"msg_{event}_{order_id}"
        now = datetime.now(tz=UTC)
        headers = {"webhook-id": msg, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(SIGNING_SECRET).sign(msg, now, body.decode()),
                   "Content-Type": "application/json"}
    else:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    answer = _session().post(url, data=body, headers=headers, timeout=30)
    return answer if full else answer.status_code


_LOCAL = threading.local()


def _session() -> requests.Session:
    if not hasattr(_LOCAL, "session"):
        _LOCAL.session = requests.Session()
    return _LOCAL.session


@pytest.fixture
def receiver_proc(spocc_env: Any, db_backend: str, broker_backend: str, tmp_path: Any
                  ) -> Iterator[Receiver]:
    rec = start_receiver(spocc_env.env, tmp_path, workers=3)
    yield rec
    rec.process.stop()


@pytest.fixture
def world(connection: Any, sandboxes: Any, receiver_proc: Receiver) -> Iterator[World]:
    with requests.Session() as http:
        w = World(connection, sandboxes, receiver_proc, http)
        for spocc_id in w.spocc_ids(STOCKED):  # every line a test orders is in stock
            w.set_stock(spocc_id, 100_000)
        yield w


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    wait_until(predicate, timeout, what)


def now() -> float:
    return time.monotonic()
