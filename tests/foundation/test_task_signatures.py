"""`spocc_task` keeps the signature of the function it wraps, so mypy checks every call."""

from __future__ import annotations

import os
from pathlib import Path

from mypy import api

from tests.support.processes import ROOT


def test_mypy_checks_a_tasks_arguments_and_its_delay(tmp_path: Path) -> None:
    snippet = tmp_path / "calls.py"
    snippet.write_text(
        "from tasks.catalogue.tasks import sync_unit\n"
        "sync_unit.delay('c1', 3, 7)\n"
        "sync_unit.delay('c1', 'three', 7)\n"
        "sync_unit.run('c1', 3)\n"
        "reveal_type(sync_unit.run('c1', 3, 7))\n"
    )
    cwd = os.getcwd()
    os.chdir(ROOT)  # the project's mypy settings and cache
    try:
        out, _err, status = api.run([str(snippet)])
    finally:
        os.chdir(cwd)
    assert status == 1, out
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if "calls.py:" in line]
    assert len([x for x in lines if x.startswith("error")]) == 2, out
    assert any('"delay"' in x and 'incompatible type "str"; expected "int"' in x for x in lines)
    assert any('Missing positional argument "unit_id"' in x for x in lines), out
    assert any('Revealed type is "str"' in x for x in lines), out
