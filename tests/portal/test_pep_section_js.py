"""The PEP section script's conditions and autosave states, checked in Node with a fake form (the browser tests
check it in Chromium)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHECK = Path(__file__).with_name("pep_section_check.mjs")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node (it builds the portal's assets too)")
def test_conditions_follow_answers_and_autosave_stops_at_a_conflict() -> None:
    result = subprocess.run(["node", str(CHECK)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
