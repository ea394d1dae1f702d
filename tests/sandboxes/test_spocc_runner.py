"""`python -m sandboxes.spocc` serves on its own and prints what a user needs to connect."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from sandboxes.spocc import DEMO_KEYS, DEMO_RETAILER_ID

ROOT = Path(__file__).resolve().parents[2]


def test_runner_prints_url_retailer_and_the_three_demo_keys_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandboxes.spocc", "--port", "0", "--variations", "200"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(6)]
        banner = "".join(lines)
        match = re.search(r"SPoCC sandbox at (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        assert DEMO_RETAILER_ID in banner
        assert all(key in banner for key in DEMO_KEYS.values())
        url = match.group(1)
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = requests.get(
                    f"{url}/global-stock/v1/stock",
                    headers={"X-Api-Key": DEMO_KEYS["global-stock"],
                             "X-Retailer-Id": DEMO_RETAILER_ID},
                    timeout=5,
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the runner never accepted a connection"
                time.sleep(0.05)
        assert answer.status_code == 200 and answer.json()["totalCount"] == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
