"""Every Python example in docs/api.md runs as written (small runs), and says what it claims."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(encoding="utf-8"),
                    re.S)
NAMES = ["runs", "levers", "outputs", "salib", "ema", "mesa"]


def test_the_doc_has_the_examples_it_promises():
    assert len(BLOCKS) == len(NAMES)
    for needle, block in zip(["api.compare", "Levers(", "api.outputs", "SALib", "ema_workbench",
                              "mesa.batch_run"], BLOCKS, strict=True):
        assert needle in block


@pytest.mark.parametrize("code", BLOCKS, ids=NAMES)
def test_example_runs(code, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    ns: dict = {}
    exec(compile(code, f"docs/api.md:{NAMES[BLOCKS.index(code)]}", "exec"), ns)  # noqa: S102
    printed = capsys.readouterr().out
    assert printed.strip(), "every example prints its result"
    if "cmp" in ns:
        h = ns["cmp"].headline
        assert h["replicates"] == 2 and h["prevented_p5"] <= h["prevented_median"] <= h["prevented_p95"]
    if "changed" in ns:
        assert ns["changed"].parameters["uptake_voluntary"] == 0.7
        assert all(iv.get("department") != "Culture" for iv in ns["changed"].interventions)
    if "Si" in ns:
        assert len(ns["Si"]["mu_star"]) == 2
    if "experiments" in ns:
        assert len(ns["experiments"]) == 2 and len(ns["outcomes"]["new_members_per_year"]) == 2
    if "df" in ns:
        assert len(ns["df"]) == 4 and ns["model"].week == 3
    assert os.getcwd() == str(ROOT)
