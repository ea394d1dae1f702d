"""The benchmark baseline: a task that does nothing, under the project's Celery settings.

Every throughput figure in bench/ is a ratio to this task's rate, measured in the same run,
so the figures do not depend on the machine they were taken on.
"""

from __future__ import annotations

from workers.celery_app import app


@app.task(name="spocc.bench.noop", ignore_result=True)
def noop() -> None:
    return None
