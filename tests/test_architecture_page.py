"""docs/architecture.md stays the project's map: every module named, no stale name
(tools/check_architecture.py), and the checker itself catches both kinds of drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools import check_architecture

ROOT = Path(__file__).resolve().parents[1]


def test_the_page_names_every_module_and_no_missing_file():
    run = subprocess.run([sys.executable, "-m", "tools.check_architecture"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout


def test_the_checker_sees_a_module_left_out_and_a_stale_name(tmp_path, monkeypatch):
    page = tmp_path / "architecture.md"
    text = check_architecture.PAGE.read_text(encoding="utf-8")
    page.write_text(text.replace("`opencv.py`", "`opencv_gone.py`"), encoding="utf-8")
    monkeypatch.setattr(check_architecture, "PAGE", page)
    found = check_architecture.problems()
    assert "pyml/opencv.py: not named in docs/architecture.md" in found
    assert "docs/architecture.md names `opencv_gone.py`, which no file is" in found


def test_the_checker_sees_a_second_home_for_a_contract(tmp_path, monkeypatch):
    stray = tmp_path / "pyml" / "stray.py"
    stray.parent.mkdir()
    stray.write_text("import os\n\ndef save(a, b):\n    os.replace(a, b)\n")
    (tmp_path / "pyml" / "atomic.py").write_text("import os\nos.replace\n")
    monkeypatch.setattr(check_architecture, "ROOT", tmp_path)
    found = check_architecture.contract_problems()
    assert found == ["pyml/stray.py: renaming a file into place (atomic writes) belongs to pyml/atomic.py alone"]
