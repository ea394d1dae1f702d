"""`spocc config apply|show`: errors by path, nothing stored when refused, secrets write-only."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from schemas.config import ConfigError, load_config
from schemas.secret import Secret
from store import config_store
from store.db import session_scope
from store.secrets import SecretBox, new_key
from tests.support.processes import ROOT

DEMO = ROOT / "cli" / "demo_connection.yaml"
CANARY = "canary-Zq8w-never-printed"


def demo_doc() -> dict:
    return yaml.safe_load(DEMO.read_text())


def spocc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_file_lists_every_error_by_path():
    doc = demo_doc()
    conn = doc["connections"][0]
    conn["mappings"]["warehouses"].append({"channel_store": 3, "warehouse_id": "x"})
    conn["mappings"]["order_statuses"] = {"handed_over": "five"}  # a status is a number
    conn["plentyone"].pop("username")
    with pytest.raises(ConfigError) as exc:
        load_config(doc)
    assert exc.value.errors == [
        "connections[0].mappings.order_statuses.handed_over: must be a JSON number (not a "
        "string), e.g. 104.01",
        "connections[0].mappings.warehouses[3].warehouse_id: not an integer",
        "connections[0].plentyone.username: Missing data for required field",
    ]


def test_a_row_mapped_twice_is_named():
    doc = demo_doc()
    doc["connections"][0]["mappings"]["warehouses"].append({"channel_store": 1, "warehouse_id": 9})
    with pytest.raises(ConfigError) as exc:
        load_config(doc)
    assert exc.value.errors == [
        "connections[0].mappings.warehouses[3].channel_store: "
        "channel store 1 is mapped twice (also row 0)"
    ]


def test_defaults_fill_processes_and_statuses():
    [conn] = load_config(demo_doc())
    assert conn.processes["stock_delta"].interval_minutes == 15
    assert conn.processes["order_status"].interval_minutes == 20
    assert conn.status("handed_over") == "5.1"
    assert conn.status("not_enough_stock") == "6.3"
    assert conn.mappings.warehouse_for_store(2).reason_id == 301


def test_refused_file_stores_nothing(spocc_env, tmp_path: Path):
    doc = demo_doc()
    doc["connections"][0]["id"] = "refused"
    doc["connections"][0]["mappings"]["warehouses"][0]["warehouse_id"] = "nope"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = spocc(spocc_env.env, "config", "apply", str(path))
    assert result.returncode == 2
    assert "connections[0].mappings.warehouses[0].warehouse_id: not an integer" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    with session_scope(spocc_env.database_url) as s:
        assert "refused" not in config_store.connection_ids(s)


def test_unreadable_yaml_is_an_error_with_its_line(spocc_env, tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("connections:\n  - id: [unclosed\n")
    result = spocc(spocc_env.env, "config", "apply", str(path))
    assert result.returncode == 2
    assert "not valid YAML" in result.stderr and "line" in result.stderr
    assert "Traceback" not in result.stderr


def test_secrets_are_write_only_and_never_printed(spocc_env, tmp_path: Path, caplog):
    doc = demo_doc()
    conn = doc["connections"][0]
    conn["id"] = "canary"
    conn["plentyone"]["password"] = CANARY
    path = tmp_path / "canary.yaml"
    path.write_text(yaml.safe_dump(doc))

    applied = spocc(spocc_env.env, "config", "apply", str(path))
    assert applied.returncode == 0, applied.stderr
    shown = spocc(spocc_env.env, "config", "show")
    assert shown.returncode == 0
    for output in (applied.stdout, applied.stderr, shown.stdout, shown.stderr):
        assert CANARY not in output
    assert "password: '********'" in shown.stdout

    # Stored encrypted: the ciphertext does not contain it.
    with session_scope(spocc_env.database_url) as s:
        from store.models import Connection, ConnectionSecret

        secret_row = s.get(ConnectionSecret, ("canary", "plentyone.password"))
        assert CANARY.encode() not in secret_row.ciphertext
        assert CANARY not in json.dumps(s.get(Connection, "canary").config)

    # Re-applying the shown (masked) file keeps the stored secret.
    masked = tmp_path / "masked.yaml"
    masked.write_text(shown.stdout)
    again = spocc(spocc_env.env, "config", "apply", str(masked))
    assert again.returncode == 0, again.stderr
    from workers import runtime

    loaded = runtime.connection("canary")
    assert loaded.plentyone.password.reveal() == CANARY

    # The type itself: repr, str, format, logging, JSON, pickling.
    secret = loaded.plentyone.password
    assert CANARY not in repr(loaded) and CANARY not in str(secret) and CANARY not in f"{secret}"
    with caplog.at_level(logging.INFO):
        logging.getLogger("spocc.test").info("config %s %r", secret, loaded)
    assert CANARY not in caplog.text
    with pytest.raises(TypeError):
        json.dumps({"password": secret})
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_secret_cannot_travel_as_a_task_argument(spocc_env):
    from kombu.exceptions import EncodeError

    from tasks.maintenance.demo import ping

    with pytest.raises(EncodeError):
        ping.apply_async(kwargs={"note": Secret(CANARY)})


def test_secret_key_rotation_reads_old_values():
    old, new = new_key(), new_key()
    token = SecretBox(Secret(old)).encrypt(Secret(CANARY))
    assert SecretBox(Secret(f"{new},{old}")).decrypt(token).reveal() == CANARY


def test_changed_config_is_read_without_restart(spocc_env, tmp_path: Path):
    from workers import runtime

    doc = demo_doc()
    doc["connections"][0]["id"] = "live"
    box = runtime.secret_box()
    with session_scope(spocc_env.database_url) as s:
        config_store.apply(s, box, doc)
    assert runtime.connection("live").processes["stock_delta"].interval_minutes == 15
    doc["connections"][0]["processes"] = {"stock_delta": {"interval_minutes": 5}}
    with session_scope(spocc_env.database_url) as s:
        diff = config_store.apply(s, box, doc)
    assert any(line.startswith("+") and "interval_minutes: 5" in line for line in diff)
    assert runtime.connection("live").processes["stock_delta"].interval_minutes == 5


def test_config_show_is_stable_and_shows_the_effective_intervals(spocc_env, tmp_path: Path):
    doc = demo_doc()
    conn = doc["connections"][0]
    conn["id"] = "intervals"
    conn["processes"] = {"images": {"interval_minutes": 120}, "attributes": {"enabled": False}}
    path = tmp_path / "intervals.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert spocc(spocc_env.env, "config", "apply", str(path)).returncode == 0
    first = spocc(spocc_env.env, "config", "show")
    second = spocc(spocc_env.env, "config", "show")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout

    def sorted_everywhere(node: object) -> bool:
        if isinstance(node, dict):
            return list(node) == sorted(node) and all(map(sorted_everywhere, node.values()))
        if isinstance(node, list):
            return all(map(sorted_everywhere, node))
        return True

    shown = yaml.safe_load(first.stdout)
    assert sorted_everywhere(shown)
    processes = next(c for c in shown["connections"] if c["id"] == "intervals")["processes"]
    assert processes["images"] == {"enabled": True, "interval_minutes": 120}
    assert processes["attributes"] == {"enabled": False, "interval_minutes": 60}
    assert processes["stock_delta"] == {"enabled": True, "interval_minutes": 15}
    assert set(processes) == {"attributes", "item_import", "extended_data", "images",
                              "stock_full", "stock_delta", "order_status"}
