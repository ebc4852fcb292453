"""The timeout warning's timing, checked in Node with a fake page (the browser tests check it in Chromium)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHECK = Path(__file__).with_name("timeout_warning_check.mjs")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node (it builds the portal's assets too)")
def test_the_warning_shows_before_the_deadline_and_signs_out_only_when_the_server_agrees() -> None:
    result = subprocess.run(["node", str(CHECK)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
