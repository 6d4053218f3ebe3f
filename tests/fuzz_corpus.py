"""A deterministic corpus of malformed input files for the robustness tests (issue 12).

    python tests/fuzz_corpus.py OUT_DIR      # write the corpus and print how many files per case

`generate(folder)` writes valid companion files (a parent scenario, an intervention file, a
scenario for experiments) and more than 1,000 malformed scenario, intervention, experiment and
calibration files, and returns one `Case` per malformed file: its path and whether it must be
refused (`must_fail`) or may be valid (random byte mutations of valid files). Every case listed in
issue 12 is covered: invalid UTF-8 (in keys, values, comments), UTF-16/32, binary data, NUL bytes,
deep nesting, tabs, inf/nan, alias bombs, tags, merge and repeated keys, wrong types (true for a
number, lists for ids), `remove:` and `use:` shapes, path escapes, huge levels, replicates and
samples, unordered ranges, out-of-range effects, probabilities and dates, empty target lists,
parameters outside their plausible range, bad names for output folders.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

SEED = 20261122
PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    """One corpus file: `group` says what was broken; `must_fail`: the loader must refuse it."""

    path: Path
    group: str
    must_fail: bool = True


EFFECT = {"acts_on": "school_failure", "value": 0.1, "range": [0.0, 0.2],
          "source": "assumption: fuzz"}
UNIVERSAL = {"id": "talk", "type": "universal", "target": {"ages": [12, 16], "stages": [0, 1]},
             "effects": [EFFECT]}
PROGRAMME = {"id": "prog", "type": "programme", "capacity_per_year": 20, "uptake": 0.5,
             "start": 2024, "end": 2026, "scale": 1.0, "cost_sek_per_year": 100000,
             "effects": [{"acts_on": "desistance", "value": 0.2, "range": [0.0, 0.4],
                          "source": "assumption: fuzz"}]}
SCENARIO = {"name": "fz", "start_year": 2024, "years": 2, "replicates": 2, "seed": 1,
            "parameters": {"entry_base_rate": 0.03},
            "interventions": [UNIVERSAL, PROGRAMME, {"use": "cat/iv.yaml"}]}
EXPERIMENT = {"name": "fx", "model": "ishigami", "parameters": ["x1", "x2", "x3"],
              "method": "sobol", "samples": 8, "outputs": ["y"], "seed": 3}
UVTS_EXPERIMENT = {"scenario": "parent.yaml", "method": "morris", "samples": 4,
                   "parameters": {"entry_base_rate": None, "gamma_peer": None},
                   "outputs": ["new_members_u18_per_year"]}
CALIBRATION = {"targets": [{"output": "active_members_mean", "range": [45, 110],
                            "unit": "persons", "source": "fuzz"}]}
INTERVENTION = {"id": "cat_iv", "type": "universal", "effects": [EFFECT]}

BAD_NUMBERS = [True, False, "ten", "1.5", float("inf"), float("-inf"), float("nan"), [1], {"a": 1},
               None]
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:  # shared dicts are written out, not aliased
        return True


def _dump(doc: object) -> str:
    return yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True)


def _deep_set(doc: dict, path: tuple, value: object) -> dict:
    """A deep copy of `doc` with `value` at `path` (keys and list indices)."""
    import copy

    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


class _Writer:
    def __init__(self, folder: Path):
        self.folder = folder
        self.cases: list[Case] = []
        self.n = 0

    def bytes(self, group: str, data: bytes, must_fail: bool = True, sub: str = "") -> Path:
        self.n += 1
        folder = self.folder / sub if sub else self.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.n:05d}_{group}.yaml"
        path.write_bytes(data)
        self.cases.append(Case(path, group, must_fail))
        return path

    def text(self, group: str, text: str, must_fail: bool = True, sub: str = "") -> Path:
        return self.bytes(group, text.encode("utf-8"), must_fail, sub)

    def doc(self, group: str, doc: object, must_fail: bool = True, sub: str = "") -> Path:
        return self.text(group, _dump(doc), must_fail, sub)


def _companions(folder: Path) -> None:
    (folder / "cat").mkdir(parents=True, exist_ok=True)
    (folder / "cat" / "iv.yaml").write_text(_dump(INTERVENTION), encoding="utf-8")
    (folder / "parent.yaml").write_text(_dump({"name": "parent", "years": 2, "interventions":
                                               [UNIVERSAL]}), encoding="utf-8")
    (folder / "calibration").mkdir(exist_ok=True)
    bad = folder / "bad_parent"
    bad.mkdir(exist_ok=True)
    (bad / "utf8.yaml").write_bytes(b"name: p\ntitle: \xff\xfe bad\n")
    (bad / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    (bad / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    (bad / "iv_binary.yaml").write_bytes(bytes(range(256)))
    (bad / "iv_ints.yaml").write_text("[1, 2, 3]\n", encoding="utf-8")
    (bad / "iv_badfield.yaml").write_text(_dump({**INTERVENTION, "scale": "big"}), "utf-8")
    link = folder / "link_to_passwd.yaml"
    if not link.exists():
        try:
            link.symlink_to("/etc/passwd")
        except OSError:
            pass


def generate(folder: str | Path) -> list[Case]:
    """Write the corpus into `folder` (created) and return its cases."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _companions(folder)
    rng = random.Random(SEED)
    w = _Writer(folder)
    valid_texts = {"scenario": _dump(SCENARIO), "experiment": _dump(EXPERIMENT),
                   "calibration": _dump(CALIBRATION), "intervention": _dump(INTERVENTION),
                   "uvts_experiment": _dump(UVTS_EXPERIMENT)}
    _encoding(w, rng, valid_texts)
    _yaml_structure(w, rng, valid_texts)
    _scenario_values(w)
    _intervention_values(w)
    _references(w)
    _experiments(w)
    _calibration(w)
    _mutations(w, rng, valid_texts)
    return w.cases


def _encoding(w: _Writer, rng: random.Random, texts: dict[str, str]) -> None:
    bad_bytes = [b"\xff", b"\xfe", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc",
                 b"\x80", b"\xc0\xaf", b"\xed\xa0\x80"]
    for kind, text in texts.items():
        data = text.encode()
        lines = data.split(b"\n")
        for k in range(12):  # invalid UTF-8 in a key, a value or a comment
            i = rng.randrange(len(lines) - 1)
            bad = rng.choice(bad_bytes)
            where = k % 3
            line = lines[i]
            if where == 0:
                new = bad + line
            elif where == 1:
                new = line + b" " + bad
            else:
                new = line + b"  # comment " + bad
            sub = "calibration" if kind == "calibration" else ""
            w.bytes(f"utf8_{kind}", b"\n".join([*lines[:i], new, *lines[i + 1:]]), sub=sub)
        for enc in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
            sub = "calibration" if kind == "calibration" else ""
            w.bytes(f"{enc}_{kind}", text.encode(enc), sub=sub)
        w.bytes(f"latin1_{kind}", (text + "title: Umeå växer tryggt\n").encode("latin-1"))
        w.bytes(f"nul_{kind}", data[: len(data) // 2] + b"\x00" + data[len(data) // 2:])
    for _ in range(60):  # random binary
        w.bytes("binary", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
    for _ in range(10):  # printable garbage and control characters
        w.bytes("control", bytes(rng.choice(b"\x01\x02\x07\x1b\x7f abc:") for _ in range(200)))


def _yaml_structure(w: _Writer, rng: random.Random, texts: dict[str, str]) -> None:
    scen = texts["scenario"]
    for depth in (30, 100, 1000, 10000, 100000):
        w.text("deep_list", f"name: deep\nparameters: {'[' * depth}{']' * depth}\n")
        w.text("deep_list_open", f"name: deep\ninterventions: {'[' * depth}\n")
        w.text("deep_map", "name: deep\nparameters: " + "{a: " * depth + "1" + "}" * depth + "\n")
        w.text("deep_list_top", "[" * depth + "]" * depth)
        w.text("deep_block", "name: deep\nx:\n" + "".join(" " * (i + 1) + "- \n" for i in
                                                          range(min(depth, 3000))))
    for _ in range(15):  # tabs
        lines = scen.splitlines()
        i = rng.randrange(1, len(lines))
        lines[i] = "\t" + lines[i].lstrip()
        w.text("tabs", "\n".join(lines) + "\n")
    w.text("tabs", "name: t\nparameters:\n\tentry_base_rate: 0.03\n")
    for field in ("name", "parameters", "interventions", "years", "remove", "extends",
                  "title"):  # alias bombs in every field
        w.text("alias_bomb", BOMB + f"{field}: *i\n")
        w.text("alias_bomb_exp", BOMB + _dump({**EXPERIMENT, "description": "x"}) .replace(
            "description: x", "description: *i"))
    w.text("alias_bomb_exp", BOMB + "method: sobol\nparameters: *i\n")
    w.text("alias_once", "name: &n fz\ntitle: *n\n")
    w.text("alias_once", "base: &b {years: 2}\n<<: *b\nname: x\n")
    w.text("merge_key", "name: x\n<<: {years: 2}\n")
    for tag in ("!!python/object/apply:os.system ['echo pwned']", "!!python/name:os.system",
                "!!binary aGVsbG8=", "!!set {a, b}", "!custom 3", "!!omap [a: 1]",
                "!!timestamp 2024-01-01", "!!str 5", "!!float 1", "!<tag:yaml.org,2002:int> 3"):
        w.text("tag", f"name: fz\nyears: {tag}\n")
        w.text("tag_exp", _dump(EXPERIMENT) + f"description: {tag}\n")
    for key, doc in (("name", SCENARIO), ("years", SCENARIO), ("parameters", SCENARIO),
                     ("method", EXPERIMENT), ("samples", EXPERIMENT), ("seed", EXPERIMENT)):
        text = _dump(doc)
        line = next(x for x in text.splitlines() if x.startswith(f"{key}:"))
        w.text("duplicate_key", text + line + "\n")
    for k in range(20):  # repeated keys nested in mappings
        w.text("duplicate_key", f"name: d\nparameters:\n  entry_base_rate: 0.03\n  gamma_peer: "
                                f"0.9\n  entry_base_rate: 0.0{k % 9 + 1}\n")
        w.text("duplicate_key", "name: d\ninterventions:\n  - id: a\n    type: universal\n"
                                f"    scale: 0.{k % 9 + 1}\n    scale: 1\n")
    w.text("duplicate_key", "name: d\n1: a\n1.0: b\n")
    for text in ("", "# only a comment\n", "---\n", "null\n", "42\n", "just text\n", "[1, 2]\n",
                 "- name: a\n", "name: [unclosed\n", "name: {a: 1\n", "name: 'open\n",
                 "a: b: c\n", "  bad:\n indent\n", "name: x\n---\nname: y\n", "? [a, b]\n: 1\n",
                 "? {a: 1}\n: 2\n", "%YAML 9.9\n---\nname: x\n", "name: x\n...\n...garbage\n",
                 "@reserved\n", "`tick\n", "name: *undefined\n", "&a\n", "name: \"\\xZZ\"\n",
                 "yes: 1\n", "on: true\nname: x\n", "null: 3\n", "true: 1\n", "2024: x\n"):
        w.text("syntax", text)
    w.text("too_big", "name: big\ndescription: " + "x" * 600_000 + "\n")
    w.text("too_many_values", "name: big\nparameters: [" + ", ".join("1" for _ in range(60_000))
           + "]\n")
    w.text("long_line", "name: " + "x" * 100_000 + "\n")


def _scenario_values(w: _Writer) -> None:
    for field in ("years", "replicates", "seed", "start_year"):
        for value in [*BAD_NUMBERS, -1, 2.5, 1e12, 10**30, "", 3000]:
            if field == "seed" and value in (1e12, 3000) or field == "replicates" and value == 3000:
                continue  # valid values
            w.doc(f"scen_{field}", _deep_set(SCENARIO, (field,), value))
    for value in (0, 51, 100000):
        w.doc("scen_years", _deep_set(SCENARIO, ("years",), value))
    for value in (0, 10_001, 1_000_000_000):
        w.doc("scen_replicates", _deep_set(SCENARIO, ("replicates",), value))
    for value in (1999, 2101, 3000, -2024):
        w.doc("scen_start_year", _deep_set(SCENARIO, ("start_year",), value))
    for name in ("entry_base_rate", "recruit_rate_peer", "gamma_peer", "uptake_voluntary",
                 "initial_active_members"):
        for value in [*BAD_NUMBERS, -1e9, 1e9, 1e400]:
            w.doc("scen_param", _deep_set(SCENARIO, ("parameters", name), value))
    for name, value in (("recruit_rate_peer", 50), ("entry_base_rate", 0.5),
                        ("gamma_peer", 3.0), ("uptake_voluntary", 0.01),
                        ("initial_active_members", 900), ("effect_scaling", 1.9)):
        w.doc("scen_param_implausible", _deep_set(SCENARIO, ("parameters", name), value))
    for params in (["entry_base_rate"], "entry_base_rate: 1", 5, {"entry_base_rte": 0.03},
                   {"": 1}, {"on": 1}, {True: 0.1}, {1: 0.1}, {None: 0.1}):
        w.doc("scen_parameters_shape", _deep_set(SCENARIO, ("parameters",), params))
    for name in ("../../escape", "../escape", "a/b", "/abs", "", " ", ".hidden", "..", 123, True,
                 None, ["a"], {"a": 1}, "x" * 200, "a\\b", "tab\there", "nul\x00", "c:x"):
        w.doc("scen_name", _deep_set(SCENARIO, ("name",), name))
    for field in ("title", "description", "title_sv"):
        for value in (1, True, [1], {"a": 1}):
            w.doc("scen_text", _deep_set(SCENARIO, (field,), value))
    for extra in ("horizon", "Years", "interventoins", "replicate"):
        w.doc("scen_unknown_field", {**SCENARIO, extra: 1})
    for interventions in (5, "talk", {"id": "x"}, [1], [None], ["talk"], [[UNIVERSAL]],
                          [UNIVERSAL, UNIVERSAL]):
        w.doc("scen_interventions_shape", _deep_set(SCENARIO, ("interventions",), interventions))


def _iv(path: tuple, value: object, base: dict = UNIVERSAL) -> dict:
    """A scenario whose first intervention has `value` at `path`."""
    return {**SCENARIO, "interventions": [_deep_set(base, path, value)]}


def _intervention_values(w: _Writer) -> None:
    for field in ("capacity_per_year", "scale", "start", "end", "cost_sek_per_year", "uptake",
                  "decay_half_life_weeks", "delay_weeks", "duration_weeks", "displacement"):
        for value in [*BAD_NUMBERS[:7], -1, 1e12, 1e400, [1, 2]]:
            w.doc(f"iv_{field}", _iv((field,), value, PROGRAMME))
    for field, value in (("uptake", 1.7), ("uptake", -0.1), ("displacement", 1.5),
                         ("scale", 1e6), ("start", 3000), ("start", 1800), ("end", 3000),
                         ("end", 2020), ("capacity_per_year", 1e9), ("top_k", 0),
                         ("top_k", 2.5), ("interval_weeks", 0), ("duration_weeks", 0),
                         ("decay_half_life_weeks", 0), ("cost_sek_per_year", 1e15)):
        w.doc(f"iv_{field}", _iv((field,), value, PROGRAMME))
    for value in ([1, 2], {"a": 1}, 5, True, None, "", ["talk"]):
        w.doc("iv_id", _iv(("id",), value))
    for value in ("magic", ["universal"], 1, None):
        w.doc("iv_type", _iv(("type",), value))
    for value in (1.7, -3.0, 100.0, True, "big", float("nan"), float("inf")):
        w.doc("iv_effect_value", _iv(("effects", 0, "value"), value))
        w.doc("iv_effect_range", _iv(("effects", 0, "range"), [0.0, value]))
    for rng in ([0.3, 0.1], [0.2], [0, 0.1, 0.2], "0-0.2", [True, 0.2], [-5, 5], None):
        w.doc("iv_effect_range", _iv(("effects", 0, "range"), rng))
    for acts_on in ("magic", ["school_failure"], 1, "desistance", None):
        w.doc("iv_effect_acts_on", _iv(("effects", 0, "acts_on"), acts_on))
    for effects in ("big", [1], [None], {"acts_on": "x"}, [{**EFFECT, "range": [0.05, 0.2]}],
                    [{k: v for k, v in EFFECT.items() if k != "source"}]):
        w.doc("iv_effects_shape", _iv(("effects",), effects))
    for ages in ([20, 3], [-1, 5], [3, 99], [3], [3, 5, 7], "3-20", [True, 5], [3, float("inf")],
                 [float("nan"), 5], None, []):
        w.doc("iv_target_ages", _iv(("target", "ages"), ages))
    for stages in ([], [5], [-1], [True], "all", [0.5], None):
        w.doc("iv_target_stages", _iv(("target", "stages"), stages))
    for field, value in (("districts", []), ("districts", ["Gotham"]), ("districts", "Ersboda"),
                         ("districts", [1]), ("school_types", []), ("school_types", ["uni"]),
                         ("risk_threshold", 1.5), ("risk_threshold", -0.1),
                         ("risk_threshold", True), ("risk_factor", "magic"), ("risk_factor", 1),
                         ("unknown", 1)):
        w.doc(f"iv_target_{field}", _iv(("target", field), value))
    for target in (5, "all", [1], None):
        w.doc("iv_target_shape", _iv(("target",), target))
    w.doc("iv_duplicate_id", {**SCENARIO, "interventions": [UNIVERSAL, UNIVERSAL]})
    w.doc("iv_private_key", _iv(("_file",), "/etc/passwd"))
    for field, value in (("capacity_per_year", None), ("top_k", None)):
        w.doc("iv_missing", _iv((field,), value, {**PROGRAMME, "type": "place"}))
    w.doc("iv_file_bad", {**INTERVENTION, "scale": float("inf")}, sub="cat_bad")
    w.doc("iv_file_bad", [INTERVENTION, 5], sub="cat_bad")
    w.doc("iv_file_bad", [], sub="cat_bad")
    w.doc("iv_file_bad", [INTERVENTION, {**INTERVENTION, "effects": [{**EFFECT, "value": 1.7,
                                                                       "range": [0, 2]}]}],
          sub="cat_bad")


def _references(w: _Writer) -> None:
    for remove in (5, [{"id": "talk"}], [["talk"]], [1], [""], "talk", {"talk": 1}, ["nope"],
                   [None], True):
        w.doc("remove_shape", {"extends": "parent.yaml", "name": "c", "remove": remove})
    w.doc("remove_without_extends", {**SCENARIO, "remove": ["talk"]})
    for use in (5, ["cat/iv.yaml"], {"file": "cat/iv.yaml"}, None, "", True, 1.5,
                "cat/missing.yaml", "cat/*.nothing", "/etc/passwd", "../../../../../etc/passwd",
                "/etc/*", "../../../../../etc/*", "../*/*.yaml", "~/.bashrc", "/dev/zero",
                "link_to_passwd.yaml", "bad_parent/iv_binary.yaml", "bad_parent/iv_ints.yaml",
                "bad_parent/bomb.yaml", "bad_parent/utf8.yaml", "bad_parent/iv_badfield.yaml",
                "cat", "nul\x00.yaml", "[", "x" * 5000):
        w.doc("use_shape", {**SCENARIO, "interventions": [{"use": use}]})
    for key, value in (("scal", 2), ("scale", "big"), ("scale", float("inf")), ("scale", True),
                       ("start", 3000), ("capacity_per_year", -5), ("id", [1])):
        w.doc("use_override", {**SCENARIO, "interventions": [{"use": "cat/iv.yaml",
                                                              key: value}]})
    for ext in (5, ["parent.yaml"], {"a": 1}, True, "", "missing.yaml", "/etc/passwd",
                "../../../../../../etc/passwd", "/dev/zero", "/proc/self/environ", "~/x.yaml",
                "link_to_passwd.yaml", "bad_parent/utf8.yaml", "bad_parent/bomb.yaml",
                "bad_parent/list.yaml", "bad_parent", "cat/iv.yaml", "nul\x00"):
        w.doc("extends_shape", {"extends": ext, "name": "c"})
    p = w.doc("extends_cycle", {"name": "self"})
    p.write_text(_dump({"extends": p.name, "name": "self"}), encoding="utf-8")
    a = w.doc("extends_cycle", {"name": "a"})
    b = w.doc("extends_cycle", {"name": "b"})
    a.write_text(_dump({"extends": b.name}), encoding="utf-8")
    b.write_text(_dump({"extends": a.name}), encoding="utf-8")
    w.doc("extends_child_bad", {"extends": "parent.yaml", "parameters": {"gamma_peer": True}})
    w.doc("extends_child_bad", {"extends": "parent.yaml", "years": 0})


def _experiments(w: _Writer) -> None:
    for field, values in (
            ("levels", [1, 0, 10**9, 1e12, True, "4", 2.5, float("inf")]),
            ("replicates", [0, -1, 10**9, 1e12, True, "1", 2.5, float("nan")]),
            ("samples", [0, -1, 10**9, 1e12, 2**40, True, "8", 2.5, float("inf"), 100]),
            ("seed", [-1, True, "x", 2**70, 1.5]),
            ("second_order", [1, "yes", 0.0, None, [True]]),
            ("method", ["fast", 1, ["sobol"], None]),
            ("model", ["other", 1, None]),
            ("outputs", [[], ["y", "y"], ["z"], "y", [1], None, ["task_id"]]),
            ("parameters", [[], {}, 5, "x1", [1, 2], ["x1", "x1"], ["x9", "x1"],
                            {"x1": {"range": [2, 1]}, "x2": None},
                            {"x1": {"range": [float("-inf"), 1]}, "x2": None},
                            {"x1": {"range": [True, 1]}, "x2": None},
                            {"x1": {"range": [0, 1, 2]}, "x2": None},
                            {"x1": {"rang": [0, 1]}, "x2": None},
                            {"x1": {"range": [-100, 100]}, "x2": None},
                            {"x1": 5, "x2": None}]),
            ("fixed", [{"noise_sd": float("nan")}, {"noise_sd": True}, {"noise_sd": -1},
                       {"x1": 0.5}, {"nope": 1}, [1], {"noise_sd": 5.0}]),
            ("name", ["../../escape", "a/b", "", ".x", 5, "x" * 300]),
            ("difference", [True, 1, "yes"]),
            ("scenario", ["/etc/passwd", "../../../../../etc/passwd", 5, ["a.yaml"], "",
                          "missing.yaml", "link_to_passwd.yaml", "/dev/zero"]),
            ("scenarios", [[], ["parent.yaml"] * 3, ["parent.yaml", "parent.yaml"],
                           ["/etc/passwd", "parent.yaml"], "parent.yaml", [5, 6]])):
        for value in values:
            base = EXPERIMENT if field not in ("scenario", "scenarios") else \
                {**EXPERIMENT, "model": "uvts", "outputs": ["new_members_u18_per_year"],
                 "parameters": ["entry_base_rate", "gamma_peer"]}
            w.doc(f"exp_{field}", _deep_set(base, (field,), value))
    w.doc("exp_grid_runaway", {**EXPERIMENT, "method": "grid", "samples": 1000})
    w.doc("exp_morris_runaway", {**EXPERIMENT, "method": "morris", "samples": 1_000_000})
    w.doc("exp_lhs_runaway", {**EXPERIMENT, "method": "lhs", "samples": 100_000,
                              "replicates": 10_000})
    w.doc("exp_both_scenarios", {**UVTS_EXPERIMENT, "scenarios": ["parent.yaml", "cat/iv.yaml"]})
    w.doc("exp_uvts_implausible", {**UVTS_EXPERIMENT, "parameters": {
        "entry_base_rate": {"range": [0.001, 0.5]}, "gamma_peer": None}})
    w.doc("exp_uvts_implausible", {**UVTS_EXPERIMENT, "fixed": {"recruit_rate_peer": 50}})
    w.doc("exp_uvts_bad_scenario", {**UVTS_EXPERIMENT, "scenario": "bad_parent/utf8.yaml"})
    w.doc("exp_top_level", [EXPERIMENT])


def _calibration(w: _Writer) -> None:
    target = CALIBRATION["targets"][0]
    for targets in ([], None, 5, "x", [5], [{**target, "range": [110, 45]}],
                    [{**target, "range": [float("inf"), 1]}], [{**target, "range": [True, 5]}],
                    [{**target, "output": "nonsense"}], [target, target],
                    [{k: v for k, v in target.items() if k != "source"}],
                    [{**target, "unit": ""}], [{**target, "extra": 1}],
                    [{**target, "range": [1]}]):
        w.doc("calibration_targets", {"targets": targets}, sub="calibration")
    w.doc("calibration_section", {**CALIBRATION, "priors": {"a": 1}}, sub="calibration")
    w.doc("calibration_section", [CALIBRATION], sub="calibration")


def _mutations(w: _Writer, rng: random.Random, texts: dict[str, str]) -> None:
    """Random byte edits of valid files: these may turn out valid, but must never crash."""
    alphabet = b" \t\n:-[]{},#&*!|>'\"%@`?0123456789.eE+-_abcxyz\xc3\xa5\xff\x00"
    for _ in range(400):
        kind = rng.choice(list(texts))
        data = bytearray(texts[kind].encode())
        for _ in range(rng.randrange(1, 6)):
            op = rng.randrange(3)
            i = rng.randrange(len(data))
            if op == 0:
                del data[i: i + rng.randrange(1, 8)]
            elif op == 1:
                data[i:i] = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 5)))
            else:
                data[i] = rng.choice(alphabet)
        w.bytes(f"mutation_{kind}", bytes(data), must_fail=False,
                sub="calibration" if kind == "calibration" else "")


if __name__ == "__main__":
    from collections import Counter

    cases = generate(sys.argv[1] if len(sys.argv) > 1 else "fuzz_corpus")
    for group, n in sorted(Counter(c.group for c in cases).items()):
        print(f"{n:5d}  {group}")
    print(f"{len(cases):5d}  files ({sum(c.must_fail for c in cases)} must be refused)")
