"""The plumbing under every PlentyONE route: the shared token, rate limits, breaker, retries.

Authentication (a token shared per connection), the shared rate limits (reads and writes
are separate budgets), the circuit breaker, retries and contract checks all happen below
`call`; the route modules (`plentyone_catalogue.py`, `plentyone.py`) state a route, its
parameters and the schema of its answer. List routes are iterators that stop on
`isLastPage`; bulk routes take any number of records and send them in chunks of 50
(PlentyONE's cap, 51 is a 422).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import redis as redislib
from marshmallow import Schema

from clients.answers import load, schema_of
from clients.breaker import BreakerSettings, CircuitBreaker
from clients.errors import ContractError
from clients.http import HttpClient
from clients.ratelimit import CATALOGUE, ORDERS, LimiterSettings, RateLimiter
from clients.retry_policy import RetryPolicy, Timeouts
from clients.status import scope as key_scope
from clients.tokens import SharedToken
from schemas.plentyone import TokenSchema, page_of
from schemas.secret import Secret

API = "plentyone"
BULK_LIMIT = 50
MAX_PER_PAGE = 250


def chunks(records: Iterable[Any], size: int = BULK_LIMIT) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def with_param(relations: Sequence[str] | None) -> str | None:
    return ",".join(relations) if relations else None


def drop_none(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class PlentyOneBase:
    """One PlentyONE system of one connection; safe to share between threads of a worker."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: Secret,
        *,
        connection_id: str | int,
        redis: redislib.Redis,
        key_prefix: str = "spocc:",
        priority: str = CATALOGUE,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        read_limits: LimiterSettings | None = None,
        write_limits: LimiterSettings | None = None,
        breaker: BreakerSettings | None = None,
        breaker_name: str = "breaker",
        acquire_timeout: float = 120.0,
        pool_size: int = 10,
    ) -> None:
        if not isinstance(password, Secret):
            raise TypeError("password must be a Secret")
        self.connection_id = str(connection_id)
        self.priority = priority
        self._username = username
        self._password = password
        scope = key_scope(key_prefix, self.connection_id, API)
        self.read_limiter = RateLimiter(
            redis, f"{scope}:rl:read", read_limits or LimiterSettings(default_limit=80)
        )
        self.write_limiter = RateLimiter(
            redis, f"{scope}:rl:write", write_limits or LimiterSettings(default_limit=40)
        )
        # A client of its own name trips its own circuit (the status write-backs: failing
        # writes must not stop the order reads a registration needs).
        self.breaker = CircuitBreaker(redis, f"{scope}:{breaker_name}", breaker)
        self.http = HttpClient(
            base_url,
            api=API,
            timeouts=timeouts,
            retry=retry,
            read_limiter=self.read_limiter,
            write_limiter=self.write_limiter,
            breaker=self.breaker,
            pool_size=pool_size,
            acquire_timeout=acquire_timeout,
        )
        self.token = SharedToken(redis, f"{scope}:token", login=self._login, refresh=self._refresh)

    def close(self) -> None:
        self.http.close()

    def state(self) -> dict[str, Any]:
        """Breaker and rate-limit state of this connection's PlentyONE API (`spocc status`)."""
        return {
            "breaker": self.breaker.state(),
            "reads": self.read_limiter.state(),
            "writes": self.write_limiter.state(),
        }

    # --- plumbing ---------------------------------------------------------------------------

    def _login(self) -> dict[str, Any]:
        return dict(
            self.http.request(
                "POST",
                "/rest/login",
                json={"username": self._username, "password": self._password.reveal()},
                schema=schema_of(TokenSchema),
                priority=ORDERS,
            )
        )

    def _refresh(self, refresh_token: str) -> dict[str, Any]:
        return dict(
            self.http.request(
                "POST",
                "/rest/login/refresh",
                json={"refresh_token": refresh_token},
                schema=schema_of(TokenSchema),
                priority=ORDERS,
            )
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        schema: type[Schema] | None = None,
        many: bool = False,
        priority: str | None = None,
        expect_body: bool = True,
    ) -> Any:
        """One authenticated call; a 401 renews the shared token once and repeats the call."""
        used: list[str] = []

        def auth() -> dict[str, str]:
            token = self.token.get()
            used.append(token)
            return {"Authorization": f"Bearer {token}"}

        def refused() -> None:
            self.token.refused(used[-1] if used else "")

        return self.http.request(
            method,
            path,
            params=drop_none(params) if params else None,
            json=json,
            schema=schema_of(schema) if schema is not None else None,
            many=many,
            headers=auth,
            on_unauthorized=refused,
            priority=priority or self.priority,
            expect_body=expect_body,
        )

    def pages(
        self,
        path: str,
        entry: type[Schema],
        params: Mapping[str, Any] | None = None,
        *,
        items_per_page: int = MAX_PER_PAGE,
        priority: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every entry of a paginated list, page by page, until `isLastPage`."""
        page = 1
        while True:
            query = dict(params or {}, page=page, itemsPerPage=items_per_page)
            env = self.call("GET", path, params=query, schema=page_of(entry), priority=priority)
            yield from env["entries"]
            if env["isLastPage"]:
                return
            last = env.get("lastPageNumber")
            if last is not None and page >= last:
                raise ContractError(
                    f"GET {path}: page {page} of {last} is not marked isLastPage",
                    api=API,
                    method="GET",
                    path=path,
                )
            page += 1

    def _collection(
        self, path: str, entry: type[Schema], params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """A route documented as a Collection: a JSON array, or one or more envelopes."""
        raw = self.call("GET", path, params=params)
        call = f"GET {path}"
        if isinstance(raw, list):
            return list(load(schema_of(entry), raw, many=True, call=call, api=API))
        if isinstance(raw, dict) and "entries" in raw:
            env = load(schema_of(page_of(entry)), raw, many=False, call=call, api=API)
            if env["isLastPage"]:
                return list(env["entries"])
            return list(self.pages(path, entry, params))
        raise ContractError(f"{call}: <body>: expected a list or a page envelope", api=API)

    def _bulk(self, method: str, path: str, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for batch in chunks(records):
            answer = self.call(method, path, json=batch, expect_body=False)
            if isinstance(answer, list):
                out.extend(answer)
            elif isinstance(answer, dict) and isinstance(answer.get("entries"), list):
                out.extend(answer["entries"])
        return out
