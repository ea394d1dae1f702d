"""What keeps `spocc up`'s parts running: start in order, restart what dies, stop in reverse.

- A part that dies after it was up is logged and started again after 1 s, doubling to 30 s
  while it keeps dying; a part that stays up for a minute starts from 1 s again.
- A part that exits before it was ever up (its port taken, a bad setting) cannot start at
  all: the supervisor stops everything and `up` exits non-zero, instead of looping.
- Each part runs in a session of its own, so the terminal's Ctrl-C reaches only `up`, which
  stops the parts with SIGTERM, the sandboxes after what calls them (a worker's warm
  shutdown finishes its task, or leaves it unacknowledged to be resent), and kills what
  outlives its grace.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from cli.console import out

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
# A part without a `ready` URL counts as up once it has lived this long.
SETTLE_SECONDS = 5.0
# Up this long: its next death is a first failure again.
STABLE_SECONDS = 60.0


class CannotStart(Exception):
    """A part exited before it was ever up."""


@dataclass
class Supervised:
    name: str
    argv: list[str]
    where: str
    ready_url: str | None = None
    grace: float = 15.0
    layer: int = 1  # stopped after every higher layer; the sandboxes are 0
    on_up: Callable[[], None] | None = None  # after each restart, once it is up again
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0
    was_up: bool = False
    failures: int = 0
    restart_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        self.proc = subprocess.Popen(self.argv, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None

    def is_up(self) -> bool:
        if not self.alive():
            return False
        if self.ready_url is None:
            return time.monotonic() - self.started_at >= SETTLE_SECONDS
        try:
            requests.get(self.ready_url, timeout=2)
            return True
        except requests.RequestException:
            return False

    def terminate(self) -> None:
        """SIGTERM to the main process only: a celery worker's pool children must not get
        it (they would die mid-task); the main process stops them after their task."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill_group(self) -> None:
        """SIGKILL to the whole session, orphans of a dead main process included."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Something listens on PORT (a bind the parts would also need fails)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


class Supervisor:
    def __init__(self, parts: list[Supervised]) -> None:
        self.parts = parts
        self.stopping = False
        self.hurry = False  # a second Ctrl-C: stop at once

    def request_stop(self, *_: object) -> None:
        if self.stopping:
            self.hurry = True
        self.stopping = True

    def start_all(self, timeout: float = 180.0) -> None:
        """Start every part at once and wait until each is up; a part that exits meanwhile
        cannot start: CannotStart."""
        for part in self.parts:
            part.spawn()
        deadline = time.monotonic() + timeout
        waiting = list(self.parts)
        while waiting and not self.stopping:
            for part in list(waiting):
                if part.is_up():
                    part.was_up = True
                    waiting.remove(part)
                elif not part.alive():
                    raise CannotStart(f"{part.name} could not start (exit code "
                                      f"{part.proc.returncode if part.proc else '?'})")
            if waiting and time.monotonic() > deadline:
                raise CannotStart(f"{', '.join(p.name for p in waiting)} not up within "
                                  f"{timeout:.0f} s")
            time.sleep(0.2)

    def watch(self, until: Callable[[], bool] = lambda: False) -> None:
        """Keep every part running until a stop is requested (or UNTIL says so)."""
        while not self.stopping and not until():
            now = time.monotonic()
            for part in self.parts:
                self._look_after(part, now)
            time.sleep(0.2)

    def _look_after(self, part: Supervised, now: float) -> None:
        if part.restart_at is not None:
            if now >= part.restart_at:
                out.print(f"[yellow]restarting {part.name}[/]")
                part.kill_group()  # what the dead one left behind (pool children)
                part.spawn()
                part.was_up = False
            return
        if part.alive():
            if not part.was_up and part.is_up():
                part.was_up = True
                out.print(f"[green]{part.name} is up again[/] (pid {part.pid})")
                if part.on_up is not None:
                    part.on_up()
            if part.was_up and now - part.started_at >= STABLE_SECONDS:
                part.failures = 0
            return
        code = part.proc.returncode if part.proc is not None else None
        part.failures += 1
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (part.failures - 1))
        out.print(f"[red]{part.name} exited with {code}[/]; restarting in {delay:.0f} s")
        part.restart_at = now + delay

    def stop_all(self) -> None:
        """Stop by layer, the last started first (the sandboxes, layer 0, after what calls
        them); within a layer all at once: SIGTERM, wait within each one's grace, then
        kill what is left."""
        for layer in sorted({p.layer for p in self.parts}, reverse=True):
            parts = [p for p in reversed(self.parts) if p.layer == layer and p.proc is not None]
            for part in parts:
                part.terminate()
            deadlines = {part.name: time.monotonic() + part.grace for part in parts}
            while not self.hurry and any(
                p.alive() and time.monotonic() < deadlines[p.name] for p in parts
            ):
                time.sleep(0.1)
            for part in parts:
                if part.alive():
                    out.print(f"[yellow]{part.name} did not stop within {part.grace:.0f} s: "
                              "killed (a task it ran is unacknowledged and is sent again)[/]")
                part.kill_group()
                if part.proc is not None:
                    part.proc.wait()
