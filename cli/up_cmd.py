"""`spocc up`: the whole system in one terminal, on embedded defaults unless configured.

Each part is its own process (exactly the command an operator would run alone), so what
`up` shows working is what production runs. The parts are listed in cli/services.py
(UP_PARTS) and kept running by cli/supervisor.py; Ctrl-C or SIGTERM stops them in reverse
order, warm, and the embedded Redis last.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO
from uuid import uuid4

import click
import requests
import yaml
from rich.table import Table
from sqlalchemy import select

from cli.console import err, fail, out
from cli.ops_cmd import console_login
from cli.services import UP_PARTS, UpPart, make_flower_credentials
from cli.supervisor import CannotStart, Supervised, Supervisor, port_in_use
from store import config_store, migrate
from store.models import Attempt
from workers import runtime

DEMO_FILE = Path(__file__).with_name("demo_connection.yaml")


def demo_document(plenty_port: int, spocc_port: int) -> dict[str, object]:
    doc = yaml.safe_load(DEMO_FILE.read_text())
    conn = doc["connections"][0]
    conn["plentyone"]["base_url"] = f"http://127.0.0.1:{plenty_port}"
    conn["spocc"]["base_url"] = f"http://127.0.0.1:{spocc_port}"
    return dict(doc)


def _port_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--<part>-port` for each part of UP_PARTS that listens on a port."""
    for part in reversed(UP_PARTS):
        if part.port is not None:
            command = click.option(
                f"--{part.port}", type=int, default=part.default_port, show_default=True,
                help=f"Port of the {part.name}.",
            )(command)
    return command


@click.command()
@_port_options
@click.option("--variations", default=16000, show_default=True, help="Sandbox catalogue size.")
@click.option("--no-sandboxes", is_flag=True, help="Do not start the test-mode sandboxes.")
@click.option("--concurrency", default=2, show_default=True, help="Processes per worker.")
@click.option(
    "--exit-after",
    type=float,
    default=None,
    hidden=True,
    help="Stop after N seconds (used by the tests).",
)
def up(
    variations: int,
    no_sandboxes: bool,
    concurrency: int,
    exit_after: float | None,
    **ports: int,
) -> None:
    """Start and supervise the workers, beat, Flower, the console, the metrics exporter, the
    webhook receiver and (test mode) the sandboxes; Ctrl-C or SIGTERM stops them all."""
    s = runtime.settings()
    guard = _only_up(s.data_dir)
    migrate.upgrade(s.database_url)
    with runtime.db() as session:
        if not config_store.connection_ids(session):
            config_store.apply(
                session,
                runtime.secret_box(),
                demo_document(ports["plentyone_port"], ports["spocc_port"]),
            )
            out.print(
                "no connection configured: applied the demo connection [bold]demo[/] "
                "(test mode, against the sandboxes)"
            )
        test_mode = any(
            config_store.load(session, runtime.secret_box(), cid).test_mode
            for cid in config_store.connection_ids(session)
        )
    sandboxes = test_mode and not no_sandboxes
    chosen = [p for p in UP_PARTS if sandboxes or not p.test_mode]
    _ports_free(chosen, ports)
    if any(p.name == "flower" for p in chosen) and not os.environ.get("SPOCC_FLOWER_AUTH"):
        make_flower_credentials()  # made now, so its place can be shown
    if any(p.name == "console" for p in chosen):
        console_login(s.data_dir)  # the configured users, else one operator made into var/

    embedded = None
    if s.embedded:
        from workers.embedded import EmbeddedRedis

        embedded = EmbeddedRedis(s.data_dir)
        embedded.start()
        os.environ["SPOCC_BROKER_URL"] = embedded.broker_url
        os.environ["SPOCC_REDIS_URL"] = embedded.redis_url
        runtime.reset()
    os.environ["SPOCC_DATA_DIR"] = str(s.data_dir)
    if sandboxes:  # once nothing can stop start-up any more, and Redis is there
        _forget_the_last_sandboxes()

    receiver_url = f"http://127.0.0.1:{ports['webhook_port']}"
    fill = {"concurrency": concurrency, "variations": variations, "data_dir": s.data_dir}
    parts = [_supervised(p, fill, ports, s.task_soft_time_limit) for p in chosen]
    workers = sum(p.name.startswith("worker") for p in parts)
    for part in parts:
        if part.name == "plentyone sandbox":
            # A restarted sandbox starts empty: it needs its event procedures again.
            part.on_up = lambda: _wire_sandbox_events(receiver_url)
        if part.name.startswith("worker") and "flower_port" in ports:
            # in a thread of its own: the supervisor's loop must not wait on Flower
            part.on_up = lambda: threading.Thread(
                target=_refresh_flower, args=(ports["flower_port"], workers), daemon=True
            ).start()
    supervisor = Supervisor(parts)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    code = 0
    try:
        supervisor.start_all()
        if not supervisor.stopping:
            _show(parts, s.database_url, embedded.broker_url if embedded else s.broker_url or "")
            if sandboxes:
                _wire_sandbox_events(receiver_url)
            _demo_task(ports.get("flower_port"), workers)
            started = time.monotonic()

            def done() -> bool:
                if embedded is not None and not embedded.running():
                    out.print("[red]the embedded Redis exited[/]; starting it again")
                    embedded.start()
                return exit_after is not None and time.monotonic() - started > exit_after

            supervisor.watch(until=done)
    except CannotStart as exc:
        err.print(f"[bold red]error:[/] {exc}: see its output above; stopping everything")
        code = 1
    finally:
        out.print("stopping… (Ctrl-C again to stop at once)")
        supervisor.stop_all()
        if embedded is not None:
            embedded.stop()
        guard.close()
        out.print("stopped")
    if code:
        raise click.exceptions.Exit(code)


def _supervised(
    part: UpPart, fill: dict[str, object], ports: dict[str, int], soft_limit: int
) -> Supervised:
    values = dict(fill)
    port = ports[part.port.replace("-", "_")] if part.port else None
    values["port"] = port
    args = [a.format(**values) for a in part.args]
    argv = [sys.executable, "-m", part.module or "cli", *args]
    return Supervised(
        name=part.name,
        argv=argv,
        where=_where(part, values),
        ready_url=f"http://127.0.0.1:{port}{part.ready}" if part.ready and port else None,
        # A worker's warm shutdown waits for its task, which ends by its soft time limit.
        grace=part.grace if part.grace is not None else soft_limit + 30.0,
        layer=0 if part.test_mode else 1,
    )


def _where(part: UpPart, values: dict[str, object]) -> str:
    where = part.where.format(**values)
    if part.name == "flower" and os.environ.get("SPOCC_FLOWER_AUTH"):
        where = where.split(" (login")[0] + " (login: SPOCC_FLOWER_AUTH)"
    generated = str(Path(str(values["data_dir"])) / "console.users")
    if part.name == "console" and (
        os.environ.get("SPOCC_CONSOLE_USERS")
        or os.environ.get("SPOCC_CONSOLE_USERS_FILE") != generated
    ):
        where = where.split(" (login")[0] + " (users: SPOCC_CONSOLE_USERS)"
    return where


def _only_up(data_dir: Path) -> TextIO:
    """Hold `up.lock` in the data directory: a second `spocc up` on it stops here."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "up.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        fail(f"`spocc up` is already running on {data_dir} (pid {pid}); stop it first "
             "(Ctrl-C in its terminal), or give this one another SPOCC_DATA_DIR")
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _ports_free(parts: list[UpPart], ports: dict[str, int]) -> None:
    """Every port a part needs is free, before anything starts."""
    taken = [
        (p, ports[p.port.replace("-", "_")])
        for p in parts
        if p.port is not None and port_in_use(ports[p.port.replace("-", "_")])
    ]
    if taken:
        fail("; ".join(f"port {n} of the {p.name} is in use" for p, n in taken)
             + ": stop what listens there, or choose another with "
             + ", ".join(f"--{p.port}" for p, _ in taken) + ". Nothing was started.")


def _forget_the_last_sandboxes() -> None:
    """The sandboxes start empty: so does what the connector knew of them (README)."""
    from cli.test_mode import reset_test_mode_data
    from workers.purge import forget_in_redis

    with runtime.db() as session:
        ids = [
            cid
            for cid in config_store.connection_ids(session)
            if config_store.load(session, runtime.secret_box(), cid).test_mode
        ]
        emptied = reset_test_mode_data(session, ids)
    forgot = forget_in_redis(runtime.redis_client(), ids)
    if emptied or any(forgot.values()):
        out.print(f"test mode: the sandboxes start empty, so the demo data of "
                  f"{', '.join(ids)} was reset in SQL and Redis (configuration kept)")


def _wire_sandbox_events(receiver_url: str) -> None:
    """Test mode: the sandbox PlentyONE gets the event procedures an operator would create."""
    from cli.test_mode import register_event_procedures

    with runtime.db() as session:
        ids = config_store.connection_ids(session)
    for conn_id in ids:
        conn = runtime.connection(conn_id)
        if not conn.test_mode:
            continue
        try:
            register_event_procedures(conn, receiver_url)
        except requests.RequestException as exc:
            out.print(f"[yellow]connection {conn_id}: event procedures not registered: {exc}[/]")
            continue
        out.print(f"connection {conn_id}: the sandbox PlentyONE calls {receiver_url}/hooks/"
                  f"{conn_id}/… on new orders, status 11/6/8 and returns "
                  "(try `spocc demo order`)")


def _show(parts: list[Supervised], database_url: str, broker: str) -> None:
    from sqlalchemy.engine import make_url

    table = Table("part", "pid", "where", title="spocc up")
    for p in parts:
        table.add_row(p.name, str(p.pid or "-"), p.where)
    table.add_row("database", "-", make_url(database_url).render_as_string(hide_password=True))
    table.add_row("broker", "-", broker.split("@")[-1])
    out.print(table)


def _demo_task(flower_port: int | None, workers: int, timeout: float = 60.0) -> None:
    """Send one task through a real worker and wait until its attempt row says success."""
    from tasks.maintenance.demo import ping

    task_id = str(uuid4())
    ping.apply_async(kwargs={"note": "spocc up"}, task_id=task_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.db() as session:
            done = (
                session.execute(select(Attempt.outcome).where(Attempt.task_id == task_id))
                .scalars()
                .all()
            )
        if "success" in done:
            out.print(f"[green]demo task {task_id} executed by a worker[/]")
            break
        time.sleep(0.3)
    else:
        out.print("[yellow]the demo task did not run within 60 s: see the worker output[/]")
    if flower_port is not None:
        _refresh_flower(flower_port, workers)
        out.print(f"[green]Flower is up[/] at http://127.0.0.1:{flower_port}")


def _refresh_flower(port: int, workers: int, timeout: float = 30.0) -> None:
    """Flower inspects the workers once, when it starts, before they are ready; ask it to
    inspect again so its worker pages and API show them at once, not after a refresh.

    Asked again until it lists all WORKERS: a refresh joins an inspection already under
    way, and one sent before a worker listened for it comes back without that worker."""
    from cli.services import flower_credentials

    login = flower_credentials() or ":"
    user, _, password = login.partition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            listed = requests.get(f"http://127.0.0.1:{port}/api/workers",
                                  params={"refresh": "1"}, auth=(user, password), timeout=30)
            if listed.ok and len(listed.json()) >= workers:
                return
            why = f"it lists {len(listed.json()) if listed.ok else listed.status_code}"
        except (requests.RequestException, ValueError) as exc:
            why = str(exc)
        if time.monotonic() > deadline:
            out.print(f"[yellow]Flower did not refresh its worker list: {why}[/]")
            return
        time.sleep(1.0)
