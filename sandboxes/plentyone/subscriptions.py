"""Webhook subscriptions: PlentyONE's own webhooks (Setup » Settings » Webhooks), beside the
event procedures of `events.py`.

A subscription is one endpoint URL and the event types it wants; its sign key is shown once,
when it is made. Every delivery carries the event type and the order in its payload, a
payload id, and a signature of that id under the sign key (wire format: webhook_format.py).
Only an HTTP 200 within `webhook_timeout` (2 s) counts as delivered; anything else is resent
at 1, 5, 10, 30 min, 1, 2, 4, 8, 12, 16, 20, 24, 32, 40, 48, 56, 64 and 72 h after the event
(18 resends), those times multiplied by `webhook_time_scale` (tests shrink them).
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from sandboxes.plentyone import webhook_format as wire

if TYPE_CHECKING:
    from sandboxes.plentyone.state import Sandbox

MINUTE, HOUR = 60.0, 3600.0
RESENDS = (1 * MINUTE, 5 * MINUTE, 10 * MINUTE, 30 * MINUTE, 1 * HOUR, 2 * HOUR, 4 * HOUR,
           8 * HOUR, 12 * HOUR, 16 * HOUR, 20 * HOUR, 24 * HOUR, 32 * HOUR, 40 * HOUR,
           48 * HOUR, 56 * HOUR, 64 * HOUR, 72 * HOUR)


class SubscriptionError(ValueError):
    """A subscription or fire request that cannot be used."""


@dataclass
class Subscription:
    id: int
    url: str
    events: tuple[str, ...]
    sign_key: str
    copies: int = 1
    active: bool = True

    @classmethod
    def from_json(cls, sid: int, raw: Any) -> Subscription:
        if not isinstance(raw, dict):
            raise SubscriptionError("a subscription must be an object")
        url = str(raw.get("url", ""))
        if not url.startswith(("http://", "https://")):
            raise SubscriptionError("url must be an http(s) URL")
        events = raw.get("events") or list(wire.EVENT_TYPES)
        if not isinstance(events, list) or not set(events) <= set(wire.EVENT_TYPES):
            raise SubscriptionError(f"events must be a list of {wire.EVENT_TYPES}")
        key = raw.get("signKey") or secrets.token_urlsafe(32)
        if not isinstance(key, str) or len(key) < 16:
            raise SubscriptionError("signKey must be a string of at least 16 characters")
        copies = raw.get("copies", 1)
        if not isinstance(copies, int) or isinstance(copies, bool) or not 1 <= copies <= 10:
            raise SubscriptionError("copies must be an integer from 1 to 10")
        return cls(id=sid, url=url, events=tuple(events), sign_key=key, copies=copies,
                   active=bool(raw.get("active", True)))

    def to_json(self, *, with_key: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "url": self.url, "events": list(self.events),
                               "copies": self.copies, "active": self.active}
        if with_key:  # only the answer that made it shows the key, as PlentyONE does
            out["signKey"] = self.sign_key
        return out


@dataclass
class Delivery:
    payload_id: str
    subscription_id: int
    order_id: int
    event: str
    url: str
    body: bytes
    headers: dict[str, str]
    created: float
    copy: int = 1
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"payloadId": self.payload_id, "subscriptionId": self.subscription_id,
                "orderId": self.order_id, "event": self.event, "url": self.url,
                "copy": self.copy, "attempts": list(self.attempts),
                "delivered": self.delivered, "done": self.done}


class WebhookSender:
    WORKERS = 8

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._lock = threading.Condition()
        self._subscriptions: dict[int, Subscription] = {}
        self._ids = itertools.count(1)
        self._deliveries: list[Delivery] = []
        # (due, seq, generation, delivery, attempt number): resends wait here, not in a thread
        self._due: list[tuple[float, int, int, Delivery, int]] = []
        self._seq = itertools.count()
        self._generation = 0
        self._pending = 0
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    # subscriptions ----------------------------------------------------------------------
    def register(self, raw: Any) -> Subscription:
        with self._lock:
            subscription = Subscription.from_json(next(self._ids), raw)
            self._subscriptions[subscription.id] = subscription
            return subscription

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def clear(self) -> None:
        with self._lock:
            self._subscriptions.clear()

    def reset(self) -> None:
        with self._lock:
            self._subscriptions.clear()
            self._deliveries.clear()
            self._due.clear()
            self._generation += 1
            self._pending = 0

    # triggers ---------------------------------------------------------------------------
    def trigger(self, trigger: str, order: dict[str, Any], status: float | None,
                previous: float | None) -> list[Delivery]:
        return self._send(wire.event_type(trigger), order, status, previous, None)

    def fire(self, body: dict[str, Any]) -> list[Delivery]:
        """Admin: {"events": [{"orderId", "event", "statusId", "previousStatusId",
        "copies"}, …]} or one such object; the orders' stored values fill the gaps."""
        items = body.get("events") if "events" in body else [body]
        if not isinstance(items, list):
            raise SubscriptionError("events must be a list")
        planned = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("orderId"), int):
                raise SubscriptionError("each event names its orderId (an integer)")
            order = self._sandbox.events.order(item["orderId"])
            if order is None:
                raise SubscriptionError(f"unknown order {item['orderId']}")
            event = item.get("event") or wire.ORDER_CREATED
            if event not in wire.EVENT_TYPES:
                raise SubscriptionError(f"event must be one of {wire.EVENT_TYPES}")
            copies = item.get("copies")
            if copies is not None and (not isinstance(copies, int) or not 1 <= copies <= 10):
                raise SubscriptionError("copies must be an integer from 1 to 10")
            planned.append((event, order, item.get("statusId"), item.get("previousStatusId"),
                            copies))
        return [d for plan in planned for d in self._send(*plan)]

    def _send(self, event: str, order: dict[str, Any], status: float | None,
              previous: float | None, copies: int | None) -> list[Delivery]:
        made = []
        now = time.monotonic()
        with self._lock:
            targets = [s for s in self._subscriptions.values()
                       if s.active and event in s.events]
            for subscription in targets:
                payload_id = str(uuid.uuid4())
                body = wire.payload(payload_id, event, order, status, previous)
                headers = wire.headers(subscription.sign_key, payload_id)
                # `copies` also follows the event procedures' admin setting (chaos runs)
                count = copies or max(subscription.copies, self._sandbox.events.copies)
                for copy in range(1, count + 1):
                    delivery = Delivery(payload_id, subscription.id, int(order["id"]), event,
                                        subscription.url, body, dict(headers), now, copy)
                    self._deliveries.append(delivery)
                    self._pending += 1
                    heapq.heappush(self._due, (now, next(self._seq), self._generation,
                                               delivery, 0))
                    made.append(delivery)
            if made:
                self._ensure_workers()
                self._lock.notify_all()
        return made

    # delivery ---------------------------------------------------------------------------
    def _ensure_workers(self) -> None:
        if self._workers:
            return
        for n in range(self.WORKERS):
            worker = threading.Thread(target=self._work, name=f"plenty-webhooks-{n}",
                                      daemon=True)
            worker.start()
            self._workers.append(worker)

    def _next(self) -> tuple[int, Delivery, int] | None:
        with self._lock:
            while not self._stop.is_set():
                if self._due and self._due[0][0] <= time.monotonic():
                    _, _, generation, delivery, attempt = heapq.heappop(self._due)
                    return generation, delivery, attempt
                wait = self._due[0][0] - time.monotonic() if self._due else 0.5
                self._lock.wait(timeout=max(0.01, min(wait, 0.5)))
            return None

    def _work(self) -> None:
        session = requests.Session()
        while (job := self._next()) is not None:
            generation, delivery, attempt = job
            if generation != self._generation:
                continue
            ok = self._attempt(session, delivery, attempt)
            with self._lock:
                if generation != self._generation:
                    continue
                if not ok and attempt < len(RESENDS):
                    due = delivery.created + RESENDS[attempt] * self._sandbox.config.\
                        webhook_time_scale
                    heapq.heappush(self._due, (due, next(self._seq), generation, delivery,
                                               attempt + 1))
                    self._lock.notify_all()
                    continue
                delivery.done = True
                self._pending -= 1

    def _attempt(self, session: requests.Session, delivery: Delivery, attempt: int) -> bool:
        started = time.time()
        record: dict[str, Any] = {"attempt": attempt + 1, "at": started}
        try:
            answer = session.post(delivery.url, data=delivery.body, headers=delivery.headers,
                                  timeout=self._sandbox.config.webhook_timeout)
            record["status"] = answer.status_code
            ok = answer.status_code == 200  # PlentyONE counts nothing else as delivered
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
            ok = False
        with self._lock:
            delivery.attempts.append(record)
            delivery.delivered = delivery.delivered or ok
        return ok

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.to_json() for d in self._deliveries]

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def shutdown(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
