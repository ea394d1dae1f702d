"""`spocc up`'s supervisor (issue 9 item 2) with real child processes: a part that keeps
dying is restarted after 1 s, doubling to 30 s; one that stays up a minute starts from 1 s
again; a part that exits before it was ever up stops `up` (CannotStart) instead of looping.
The clock handed to the supervisor is the test's, so the 30 s cap takes no minutes."""

from __future__ import annotations

import sys
import time

import pytest

from cli.supervisor import MAX_DELAY, STABLE_SECONDS, CannotStart, Supervised, Supervisor

DIES = [sys.executable, "-c", "raise SystemExit(3)"]
LIVES = [sys.executable, "-c", "import time; time.sleep(60)"]


def _dead(part: Supervised) -> None:
    assert part.proc is not None
    part.proc.wait(timeout=30)


def test_a_part_that_keeps_dying_waits_1_s_doubling_to_30_s() -> None:
    part = Supervised("flaky", DIES, ".")
    sup = Supervisor([part])
    part.spawn()
    part.was_up = True  # it was up once: from now on it is restarted, not refused
    now = time.monotonic()
    delays = []
    for _ in range(8):
        _dead(part)
        sup._look_after(part, now)  # notices the death, schedules the restart
        assert part.restart_at is not None
        delays.append(round(part.restart_at - now, 3))
        now = part.restart_at
        sup._look_after(part, now - 0.001)  # not yet
        assert part.restart_at is not None and not part.alive()
        sup._look_after(part, now)  # its time: a new process
        assert part.restart_at is None and part.proc is not None
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, MAX_DELAY, MAX_DELAY, MAX_DELAY]
    part.kill_group()


def test_a_part_up_for_a_minute_starts_from_1_s_again() -> None:
    part = Supervised("steady", LIVES, ".")
    sup = Supervisor([part])
    part.spawn()
    part.was_up, part.failures = True, 5  # it had died five times
    try:
        sup._look_after(part, part.started_at + STABLE_SECONDS - 1)
        assert part.failures == 5
        sup._look_after(part, part.started_at + STABLE_SECONDS)
        assert part.failures == 0
        part.kill_group()
        _dead(part)
        now = time.monotonic()
        sup._look_after(part, now)
        assert part.restart_at == pytest.approx(now + 1.0)
    finally:
        part.kill_group()


def test_a_part_that_exits_before_it_was_up_stops_up_naming_it() -> None:
    steady = Supervised("steady", LIVES, ".")
    broken = Supervised("broken", DIES, ".")
    sup = Supervisor([steady, broken])
    try:
        with pytest.raises(CannotStart, match=r"broken could not start \(exit code 3\)"):
            sup.start_all(timeout=30)
    finally:
        steady.kill_group()
        broken.kill_group()
