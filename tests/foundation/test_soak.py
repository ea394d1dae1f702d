"""CI's soak (issue 9): `spocc up` on the embedded defaults with a small demo catalogue and a
stream of demo orders for 3 minutes (bench/soak.py runs it for 30)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import STEPS, soak

# Start-up on a loaded machine and the warm stop add about two minutes to the three.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_three_minutes_on_the_embedded_defaults(tmp_path: Path) -> None:
    figures = soak(minutes=3, variations=200, order_every=10.0, workdir=tmp_path)
    report = figures.report()
    assert figures.orders_carried >= 3, report
    assert figures.dead_letters == [], report
    assert figures.missing_processes() == [], report
    for kind in STEPS:
        assert figures.applied_once(kind) == figures.orders_carried, report
    assert figures.doubled() == [], report
    assert figures.status_exit == 0, report + figures.status_output
    assert figures.stopped_cleanly and figures.strays == [], report
