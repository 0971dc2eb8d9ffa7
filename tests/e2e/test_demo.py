"""`recoop demo --no-serve` runs the whole simulated day and prints a balanced summary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.cli import main


def test_demo_runs_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo day ends with weighings, paid payouts, a clean reconciliation and total 0."""
    assert (
        main(
            [
                "demo",
                "--no-serve",
                "--households",
                "12",
                "--out",
                str(tmp_path),
                "--port",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "== Summary ==" in out
    assert "trial balance total: 0 (must be 0)" in out
    assert re.search(r"weighed:\s+\d+ stops", out)
    assert "differences: 0" in out
    assert "/impact" in out
    assert re.search(r"/ops +\(sign in: demo / \S{12,}\)", out)
    assert re.search(r"/collector/login\?phone=%2B\d+&code=\d{6}", out)
