"""The repository keeps its promises: CI runs the README's test command; files are documented."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quickstart() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_has_two_quickstart_commands():
    cmds = _quickstart()
    assert len(cmds) == 2
    assert "uvts compare scenarios/uvts_2024_2026.yaml scenarios/without_uvts.yaml" in cmds[0]
    assert cmds[1].rstrip().endswith("pytest")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _quickstart()[1].strip() in ci


def test_every_scenario_file_says_what_it_represents():
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first.startswith("#"), f"{path} should open with a comment saying what it is"
