"""The business configuration file (`spocc config apply FILE`): connections and their mappings.

One schema validates the file, produces the typed configuration every process reads, and
dumps it back (secrets masked) for `spocc config show`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import (
    EXCLUDE,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from schemas.config_mappings import DEFAULT_STATUSES, MappingsSchema, Strict, unique_rows
from schemas.connection import (
    Acceptance,
    ConnectionConfig,
    ItemImport,
    Mappings,
    PlentyApi,
    ProcessSetting,
    Rules,
    SalesPrices,
    Share,
    SpoccApi,
    WarehouseMap,
    Webhooks,
    referrer_key,
)
from schemas.ids import DecimalId, integer_id
from schemas.secret import MASK, Secret

PROCESSES: dict[str, int] = {
    # process name → default interval in minutes (../shared/spec/connector.md)
    "attributes": 60,
    "item_import": 1440,
    "extended_data": 60,
    "images": 60,
    "stock_full": 1440,
    "stock_delta": 15,
    "order_status": 20,
}

SECRET_FIELDS = (
    "spocc.content_api_key",
    "spocc.stock_api_key",
    "spocc.transaction_api_key",
    "plentyone.password",
    "webhooks.token",
    "webhooks.signing_secret",
    "webhooks.plentyone_sign_key",
)



class SecretField(fields.Field):
    """A write-only string: loads into `Secret`, dumps as a mask.

    Its checks run on the plain string here, before it is wrapped, and their messages never
    quote the value.
    """

    def __init__(self, *, min_length: int = 1, pattern: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.min_length = min_length
        self.pattern = re.compile(pattern) if pattern else None

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kw: Any) -> Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        plain = value
        if len(plain) < self.min_length:
            raise ValidationError(f"must be at least {self.min_length} characters")
        if self.pattern is not None and not self.pattern.match(plain):
            raise ValidationError(f"must match {self.pattern.pattern}")
        return Secret(plain)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kw: Any) -> str | None:
        return None if value is None else MASK


# ---------------------------------------------------------------- schemas (what files must say)


class SpoccApiSchema(Strict):
    base_url = fields.Url(required=True, require_tld=False)
    retailer_id = fields.String(required=True, validate=validate.Length(min=1))
    content_api_key = SecretField(load_default=None)
    stock_api_key = SecretField(load_default=None)
    transaction_api_key = SecretField(load_default=None)
    timeout_seconds = fields.Float(load_default=30.0, validate=validate.Range(min=0.1, max=300))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SpoccApi:
        return SpoccApi(**data)


class PlentyApiSchema(Strict):
    base_url = fields.Url(required=True, require_tld=False)
    username = fields.String(required=True, validate=validate.Length(min=1))
    password = SecretField(load_default=None)
    timeout_seconds = fields.Float(load_default=30.0, validate=validate.Range(min=0.1, max=300))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PlentyApi:
        return PlentyApi(**data)


class WebhooksSchema(Strict):
    token = SecretField(load_default=None, min_length=16)
    signing_secret = SecretField(load_default=None, pattern=r"^whsec_[A-Za-z0-9+/=]+$")
    plentyone_sign_key = SecretField(load_default=None, min_length=16)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Webhooks:
        return Webhooks(**data)


class AcceptanceSchema(Strict):
    enabled = fields.Boolean(load_default=False)
    threshold = fields.Float(load_default=0.97, validate=validate.Range(min=0, max=2))
    on_fail = fields.String(
        load_default="not_enough_stock", validate=validate.OneOf(["not_enough_stock", "hold"])
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Acceptance:
        return Acceptance(**data)


class RulesSchema(Strict):
    block_order_referrers = fields.List(DecimalId(), load_default=list)
    block_product_groups = fields.List(integer_id(), load_default=list)
    cap_stock = integer_id(load_default=None, allow_none=True)
    stock_buffer = integer_id(load_default=0)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Rules:
        referrers = [referrer_key(r) for r in data.pop("block_order_referrers")]
        return Rules(block_order_referrers=referrers, **data)


class ProcessSettingSchema(Strict):
    enabled = fields.Boolean(load_default=True)
    interval_minutes = integer_id(load_default=None, allow_none=True, minimum=1,
                                  maximum=7 * 1440)


class ProcessesSchema(Strict):
    attributes = fields.Nested(ProcessSettingSchema)
    item_import = fields.Nested(ProcessSettingSchema)
    extended_data = fields.Nested(ProcessSettingSchema)
    images = fields.Nested(ProcessSettingSchema)
    stock_full = fields.Nested(ProcessSettingSchema)
    stock_delta = fields.Nested(ProcessSettingSchema)
    order_status = fields.Nested(ProcessSettingSchema)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> dict[str, ProcessSetting]:
        out = {}
        for name, default in PROCESSES.items():
            given = data.get(name) or {}
            out[name] = ProcessSetting(
                enabled=given.get("enabled", True),
                interval_minutes=given.get("interval_minutes") or default,
            )
        return out


class ShareSchema(Strict):
    concurrency = integer_id(load_default=Share.concurrency, minimum=1, maximum=1000)
    queued = integer_id(load_default=Share.queued, minimum=1, maximum=10_000)
    orders = integer_id(load_default=Share.orders, minimum=1, maximum=1000)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Share:
        return Share(**data)


class ConnectionSchema(Strict):
    id = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[a-z0-9][a-z0-9-]{0,62}$", error="lowercase letters, digits, -"
        ),
    )
    name = fields.String(load_default=None)
    test_mode = fields.Boolean(load_default=False)
    spocc = fields.Nested(SpoccApiSchema, required=True)
    plentyone = fields.Nested(PlentyApiSchema, required=True)
    webhooks = fields.Nested(WebhooksSchema, load_default=dict)
    mappings = fields.Nested(MappingsSchema, required=True)
    acceptance = fields.Nested(AcceptanceSchema, load_default=dict)
    rules = fields.Nested(RulesSchema, load_default=dict)
    processes = fields.Nested(ProcessesSchema, load_default=dict)
    share = fields.Nested(ShareSchema, load_default=dict)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ConnectionConfig:
        defaults = {"webhooks": WebhooksSchema, "acceptance": AcceptanceSchema,
                    "rules": RulesSchema, "processes": ProcessesSchema, "share": ShareSchema}
        for key, schema in defaults.items():
            if isinstance(data.get(key), dict) and not data[key]:
                data[key] = schema().load({})
        data["name"] = data.get("name") or data["id"]
        return ConnectionConfig(**data)


class ConfigFileSchema(Strict):
    connections = fields.List(
        fields.Nested(ConnectionSchema), required=True, validate=validate.Length(min=1)
    )

    @validates_schema(skip_on_field_errors=True)
    def ids_unique(self, data: dict[str, Any], **_: Any) -> None:
        errors = unique_rows(data["connections"], "id", "connection", "connections")
        if errors:
            raise ValidationError(errors)


class ConfigError(ValueError):
    """A configuration that cannot be applied; `.errors` lists `path: message` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def flatten_errors(messages: Any, path: str = "") -> list[str]:
    """marshmallow's nested error dict → `connections[0].mappings.warehouses[2].x: msg`."""
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key, value in messages.items():
            if key == "_schema":
                child = path
            elif isinstance(key, int):
                child = f"{path}[{key}]"
            else:
                child = f"{path}.{key}" if path else str(key)
            out.extend(flatten_errors(value, child))
        return out
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return [f"{path or '(file)'}: {_plain(m)}" for m in messages]
        out = []
        for m in messages:
            out.extend(flatten_errors(m, path))
        return out
    return [f"{path or '(file)'}: {_plain(str(messages))}"]


def _plain(message: str) -> str:
    return re.sub(r"\.$", "", message).replace("Not a valid integer", "not an integer")


def load_config(document: Any) -> list[ConnectionConfig]:
    """Validate a parsed config file; every error is listed by its path."""
    if not isinstance(document, Mapping):
        raise ConfigError(["(file): must be a mapping with a `connections` list"])
    try:
        result = ConfigFileSchema().load(document)
    except ValidationError as exc:
        raise ConfigError(sorted(flatten_errors(exc.messages))) from None
    connections: list[ConnectionConfig] = result["connections"]
    return connections


def load_connection(document: Mapping[str, Any]) -> ConnectionConfig:
    """One stored connection (secrets merged in by the config store)."""
    loaded: ConnectionConfig = _STORED.load(_upgrade(document))
    return loaded


# One instance for every stored connection: building a schema builds its nested ones, which
# was most of a load's time (beat's first tick loads every connection). A load keeps no
# state on the instance, so threads share it.
_STORED = ConnectionSchema(unknown=EXCLUDE)


_DECIMAL_TEXT = re.compile(r"^\d{1,12}(\.\d{1,4})?$")


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, str) and _DECIMAL_TEXT.match(value) else value


def _upgrade(document: Mapping[str, Any]) -> dict[str, Any]:
    """A document stored before decimal ids had to be numbers spells them as text ("104.01");
    it was valid when applied, so its spelling is read as the number it names. Files given
    to `config apply` get no such leniency."""
    # Shallow copies of the parts changed: the document holds Secrets, which refuse copying.
    doc = dict(document)
    if isinstance(doc.get("mappings"), dict):
        mappings = doc["mappings"] = dict(doc["mappings"])
        if isinstance(mappings.get("markets"), list):
            mappings["markets"] = [
                {**row, "plenty_referrer_id": _number(row["plenty_referrer_id"])}
                if isinstance(row, dict) and "plenty_referrer_id" in row else row
                for row in mappings["markets"]]
        if isinstance(mappings.get("order_statuses"), dict):
            mappings["order_statuses"] = {
                k: _number(v) for k, v in mappings["order_statuses"].items()}
    if isinstance(doc.get("rules"), dict):
        rules = doc["rules"] = dict(doc["rules"])
        if isinstance(rules.get("block_order_referrers"), list):
            rules["block_order_referrers"] = [_number(r) for r in rules["block_order_referrers"]]
    return doc


# The typed configuration is importable from here too: callers know one module.
__all__ = [
    "DEFAULT_STATUSES", "PROCESSES", "SECRET_FIELDS", "Acceptance", "ConfigError",
    "ConnectionConfig", "ItemImport", "Mappings", "PlentyApi", "ProcessSetting", "Rules",
    "SalesPrices", "Share", "SpoccApi", "WarehouseMap", "Webhooks", "load_config",
    "load_connection",
]
