"""The quick speed benchmark still runs end to end (no timing asserts: numbers go to docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


@pytest.mark.slow
def test_quick_speed_benchmark_runs_and_reports_every_case(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "plain PyMC + nutpie" in done.stdout and "plain ADVI" in done.stdout
    results = json.loads(out.read_text())
    for item in results["comparison"]:
        for who in ("screenfit", "reference"):
            r = item[who]
            assert "error" not in r and r["wall_s"] > 0 and r["peak_rss_mib"] > 0
            assert r["wall_s"] >= r["compile_s"] + r["sample_s"]
    assert all(item["screenfit"]["rows"] > 0 for item in results["scaling"])
