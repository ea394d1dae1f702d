"""Event procedures: PlentyONE's "Open URL" action, fired at the connector's webhook.

A procedure has a trigger (a new order, a new return, a status change to X), optional
filters (referrers, order types) and one action: call a URL template with `[OrderID]`
substituted. Authentication is a shared secret (a bearer token, or a token in the URL);
a signing secret (`whsec_…`) makes the delivery a Standard Webhooks one, as a relay in
front of the receiver would send it. Failed calls are retried a few times with a doubling
backoff; `duplicate` sends every delivery twice (`copies` n times), as at-least-once
senders do; `copies` set on the dispatcher applies to every procedure (chaos runs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

if TYPE_CHECKING:
    from sandboxes.plentyone.state import Sandbox

TRIGGERS = ("new_order", "new_return", "status_change")


class ProcedureError(ValueError):
    """A procedure or fire request that cannot be used."""


@dataclass
class Procedure:
    id: int
    name: str
    trigger: str
    url: str
    status_id: float | None = None
    method: str = "POST"
    referrer_ids: list[float] | None = None
    order_type_ids: list[int] | None = None
    bearer_token: str | None = None
    query_token: str | None = None
    signing_secret: str | None = None
    duplicate: bool = False
    copies: int = 1
    retries: int | None = None
    backoff: float | None = None
    active: bool = True

    @classmethod
    def from_json(cls, pid: int, raw: Any) -> Procedure:
        if not isinstance(raw, dict):
            raise ProcedureError("a procedure must be an object")
        trigger = str(raw.get("trigger", ""))
        if trigger not in TRIGGERS:
            raise ProcedureError(f"trigger must be one of {TRIGGERS}")
        url = str(raw.get("url", ""))
        if not url.startswith(("http://", "https://")):
            raise ProcedureError("url must be an http(s) URL template, e.g. .../[OrderID]")
        auth = raw.get("auth") or {}
        if not isinstance(auth, dict):
            raise ProcedureError("auth must be an object: {bearer} or {queryToken}")
        method = str(raw.get("method", "POST")).upper()
        if method not in ("GET", "POST", "PUT"):
            raise ProcedureError("method must be GET, POST or PUT")
        secret = raw.get("signingSecret")
        if secret is not None and not str(secret).startswith("whsec_"):
            raise ProcedureError("signingSecret must be a whsec_ base64 secret")
        status = raw.get("statusId")
        if trigger == "status_change" and status is None:
            raise ProcedureError("a status_change procedure names its statusId")
        return cls(
            id=pid, name=str(raw.get("name") or f"procedure {pid}"), trigger=trigger, url=url,
            status_id=round(float(status), 2) if status is not None else None, method=method,
            referrer_ids=[float(r) for r in raw["referrerIds"]] if raw.get("referrerIds")
            else None,
            order_type_ids=[int(t) for t in raw["orderTypeIds"]] if raw.get("orderTypeIds")
            else None,
            bearer_token=auth.get("bearer"), query_token=auth.get("queryToken"),
            signing_secret=str(secret) if secret else None,
            duplicate=bool(raw.get("duplicate", False)),
            copies=max(1, int(raw.get("copies", 2 if raw.get("duplicate") else 1))),
            retries=int(raw["retries"]) if raw.get("retries") is not None else None,
            backoff=float(raw["backoff"]) if raw.get("backoff") is not None else None,
            active=bool(raw.get("active", True)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "trigger": self.trigger, "url": self.url,
            "statusId": self.status_id, "method": self.method, "referrerIds": self.referrer_ids,
            "orderTypeIds": self.order_type_ids,
            "auth": {"bearer": "***" if self.bearer_token else None,
                     "queryToken": "***" if self.query_token else None},
            "signed": self.signing_secret is not None, "duplicate": self.duplicate,
            "copies": self.copies,
            "retries": self.retries, "backoff": self.backoff, "active": self.active,
        }

    def matches(self, event: str, order: dict[str, Any], status_id: float | None) -> bool:
        if not self.active or self.trigger != event:
            return False
        if event == "status_change" and self.status_id != status_id:
            return False
        if self.referrer_ids is not None and float(order["referrerId"]) not in self.referrer_ids:
            return False
        return self.order_type_ids is None or int(order["typeId"]) in self.order_type_ids


@dataclass
class Delivery:
    id: str
    procedure_id: int
    order_id: int
    event: str
    url: str
    method: str
    body: bytes
    headers: dict[str, str]
    retries: int
    backoff: float
    copy: int = 1
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "deliveryId": self.id, "procedureId": self.procedure_id, "orderId": self.order_id,
            "event": self.event, "url": self.url, "method": self.method, "copy": self.copy,
            "attempts": list(self.attempts), "delivered": self.delivered, "done": self.done,
        }


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: base64 HMAC-SHA256 over `id.timestamp.body`, key from whsec_."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _with_query(url: str, token: str) -> str:
    parts = urlsplit(url)
    query = (parts.query + "&" if parts.query else "") + urlencode({"token": token})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class EventDispatcher:
    WORKERS = 4

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._lock = threading.Lock()
        self._procedures: dict[int, Procedure] = {}
        self._next_id = 1
        self._deliveries: list[Delivery] = []
        self._queue: queue.Queue[tuple[int, Delivery]] = queue.Queue()
        self._pending = 0
        self._generation = 0
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        # Every delivery of every procedure at least this many times (admin setting).
        self.copies = 1

    # procedures -----------------------------------------------------------------------
    def register(self, raw: Any) -> Procedure:
        with self._lock:
            procedure = Procedure.from_json(self._next_id, raw)
            self._procedures[procedure.id] = procedure
            self._next_id += 1
            return procedure

    def procedures(self) -> list[Procedure]:
        with self._lock:
            return list(self._procedures.values())

    def clear_procedures(self) -> None:
        with self._lock:
            self._procedures.clear()

    def reset(self) -> None:
        with self._lock:
            self._procedures.clear()
            self._deliveries.clear()
            self._generation += 1
            self._pending = 0
            self.copies = 1

    # triggers -------------------------------------------------------------------------
    def order_created(self, order_id: int) -> list[Delivery]:
        order = self.order(order_id)
        if order is None:
            return []
        event = "new_return" if int(order["typeId"]) == 3 else "new_order"
        return self._fire_matching(event, order, None, None)

    def status_changed(self, order_id: int, previous: float, status_id: float) -> list[Delivery]:
        order = self.order(order_id)
        if order is None:
            return []
        return self._fire_matching("status_change", order, status_id, previous)

    def fire(self, body: dict[str, Any]) -> list[Delivery]:
        """Admin: fire for one order, by matching procedures or ad hoc ones given inline."""
        if body.get("orderId") is None:
            raise ProcedureError("orderId is required")
        order = self.order(int(body["orderId"]))
        if order is None:
            raise ProcedureError(f"unknown order {body['orderId']}")
        event = str(body.get("event") or ("new_return" if order["typeId"] == 3
                                          else "new_order"))
        if event not in TRIGGERS:
            raise ProcedureError(f"event must be one of {TRIGGERS}")
        status = round(float(body.get("statusId", order["statusId"])), 2)
        previous = body.get("previousStatusId")
        inline = body.get("procedure") or body.get("procedures")
        if inline:
            specs = inline if isinstance(inline, list) else [inline]
            procedures = [Procedure.from_json(0, dict({"trigger": event, "statusId": status},
                                                      **spec)) for spec in specs]
            return self._deliver_all(procedures, event, order, status,
                                     float(previous) if previous is not None else None)
        wanted = body.get("procedureIds")
        with self._lock:
            candidates = [p for p in self._procedures.values()
                          if wanted is None or p.id in wanted]
        procedures = [p for p in candidates if p.matches(event, order, status)
                      or (wanted is not None and p.trigger == event)]
        return self._deliver_all(procedures, event, order, status,
                                 float(previous) if previous is not None else None)

    def order(self, order_id: int) -> dict[str, Any] | None:
        """A copy of the stored order (both senders build payloads from it)."""
        store = self._sandbox.store
        with store.lock:
            order = store.orders.get(order_id)
            return dict(order) if order is not None else None

    def _fire_matching(self, event: str, order: dict[str, Any], status: float | None,
                       previous: float | None) -> list[Delivery]:
        # The same trigger reaches the webhook subscriptions (their own sender and format).
        self._sandbox.subscriptions.trigger(event, order, status, previous)
        with self._lock:
            procedures = [p for p in self._procedures.values()
                          if p.matches(event, order, status)]
        return self._deliver_all(procedures, event, order, status, previous)

    def _deliver_all(self, procedures: list[Procedure], event: str, order: dict[str, Any],
                     status: float | None, previous: float | None) -> list[Delivery]:
        made = []
        for procedure in procedures:
            made.extend(self._enqueue(procedure, event, order, status, previous))
        return made

    # delivery -------------------------------------------------------------------------
    def _enqueue(self, procedure: Procedure, event: str, order: dict[str, Any],
                 status: float | None, previous: float | None) -> list[Delivery]:
        config = self._sandbox.config
        order_id = int(order["id"])
        url = procedure.url.replace("[OrderID]", str(order_id)).replace(
            "[OrderId]", str(order_id)).replace("[StatusID]", str(status or order["statusId"]))
        if procedure.query_token:
            url = _with_query(url, procedure.query_token)
        payload = {
            "orderId": order_id, "event": event, "typeId": order["typeId"],
            "statusId": status if status is not None else order["statusId"],
            "previousStatusId": previous, "referrerId": order["referrerId"],
            "plentyId": order["plentyId"], "procedureId": procedure.id,
            "occurredAt": int(time.time()),
        }
        body = json.dumps(payload).encode() if procedure.method != "GET" else b""
        msg_id = "msg_" + uuid.uuid4().hex
        headers = {"User-Agent": "PlentyONE-Sandbox-EventProcedure/1.0"}
        if body:
            headers["Content-Type"] = "application/json"
        if procedure.bearer_token:
            headers["Authorization"] = f"Bearer {procedure.bearer_token}"
        if procedure.signing_secret:
            timestamp = int(time.time())
            headers["webhook-id"] = msg_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign(procedure.signing_secret, msg_id, timestamp,
                                                body)
        copies = max(procedure.copies, self.copies)
        made = []
        with self._lock:
            generation = self._generation
            for copy in range(1, copies + 1):
                delivery = Delivery(
                    id=msg_id, procedure_id=procedure.id, order_id=order_id, event=event,
                    url=url, method=procedure.method, body=body, headers=dict(headers),
                    retries=procedure.retries if procedure.retries is not None
                    else config.event_retries,
                    backoff=procedure.backoff if procedure.backoff is not None
                    else config.event_backoff, copy=copy,
                )
                self._deliveries.append(delivery)
                self._pending += 1
                made.append(delivery)
            self._ensure_workers()
        for delivery in made:
            self._queue.put((generation, delivery))
        return made

    def _ensure_workers(self) -> None:
        if self._workers:
            return
        for n in range(self.WORKERS):
            worker = threading.Thread(target=self._work, name=f"plenty-events-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def _work(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            try:
                generation, delivery = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._attempt_all(session, generation, delivery)
            finally:
                with self._lock:
                    delivery.done = True
                    if generation == self._generation:
                        self._pending -= 1

    def _attempt_all(self, session: requests.Session, generation: int,
                     delivery: Delivery) -> None:
        timeout = self._sandbox.config.event_timeout
        for attempt in range(delivery.retries + 1):
            if self._stop.is_set() or generation != self._generation:
                return
            started = time.time()
            record: dict[str, Any] = {"attempt": attempt + 1, "at": started}
            try:
                answer = session.request(delivery.method, delivery.url, data=delivery.body,
                                         headers=delivery.headers, timeout=timeout)
                record["status"] = answer.status_code
                ok = 200 <= answer.status_code < 300
            except requests.RequestException as exc:
                record["error"] = type(exc).__name__
                ok = False
            with self._lock:
                delivery.attempts.append(record)
                if ok:
                    delivery.delivered = True
            if ok:
                return
            if attempt < delivery.retries:
                self._stop.wait(delivery.backoff * (2 ** attempt))

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.to_json() for d in self._deliveries]

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def shutdown(self) -> None:
        self._stop.set()
