"""The input boundary: every file the tool reads (scenario, intervention, experiment, calibration,
parameter file) is read, parsed and checked here before anything else looks at it.

- Bytes: a regular file of at most `MAX_BYTES`, UTF-8 (a UTF-8 byte-order mark is accepted);
  UTF-16/32, binary data and invalid UTF-8 get an error naming the line.
- YAML: the safe loader with no aliases (`*name`; none of the project's files needs them, and they
  are how "billion laughs" bombs work), no tags (`!!python/...`, `!!binary`, ...), no merge keys,
  no repeated keys in a mapping (YAML would let the last one win silently), at most `MAX_DEPTH`
  levels of nesting and `MAX_NODES` values.
- Schemas: `StrictInput` models refuse true/false or text where a number is expected, inf and nan,
  and unknown fields.
- Paths: `extends:`, `use:` and an experiment's `scenario:` must stay inside the project's
  `scenarios/` folder, the folder of the file that names them, or a folder the user allowed with
  `--search-path` (environment variable `UVTS_SEARCH_PATH`).
- Names that become folder names are checked (`check_name`) and sanitised (`safe_name`).
- A model parameter outside its plausible range is refused unless the user allows it
  (`--allow-outside-range`, environment variable `UVTS_ALLOW_OUTSIDE_RANGE=1`, which worker
  processes inherit); what was allowed is recorded in the result's manifest.
"""

from __future__ import annotations

import copy
import glob
import hashlib
import os
import re
import stat
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from sim.errors import InputError, shorten

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCENARIO_ROOT = PROJECT_ROOT / "scenarios"
MAX_BYTES = 512 * 1024      # the largest shipped file is ~15 kB
MAX_DEPTH = 24              # levels of nesting (the shipped files use at most 5)
MAX_NODES = 10_000          # values in one file
MAX_ALIASES = 0             # YAML aliases (*name) allowed in one file
MAX_GLOB_MATCHES = 500      # files one `use:` pattern may name
ALLOW_ENV = "UVTS_ALLOW_OUTSIDE_RANGE"
SEARCH_ENV = "UVTS_SEARCH_PATH"
YEAR_BOUNDS = (2000.0, 2100.0)  # calendar years any date in an input may take


# ---------------------------------------------------------------------------- bytes and text

def read_bytes(path: str | Path, error: type[InputError] = InputError,
               what: str = "file") -> bytes:
    """The bytes of a regular file of at most MAX_BYTES; anything else is a named error."""
    p = Path(path)
    where = str(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise error(where, "(file)", f"an existing {what}") from None
    except (OSError, ValueError) as exc:  # ValueError: NUL in the path
        raise error(where, "(file)", f"a readable {what} ({_reason(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(where, "(file)", f"a {what}, not a folder")
    if not stat.S_ISREG(st.st_mode):
        raise error(where, "(file)", f"a regular {what} (not a device, pipe or socket)")
    if st.st_size > MAX_BYTES:
        raise error(where, "(file)", f"a {what} of at most {MAX_BYTES:,} bytes",
                    f"{st.st_size:,} bytes")
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise error(where, "(file)", f"a readable {what} ({_reason(exc)})") from None
    if len(data) > MAX_BYTES:
        raise error(where, "(file)", f"a {what} of at most {MAX_BYTES:,} bytes")
    return data


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
         (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"))


def decode(data: bytes, where: str, error: type[InputError] = InputError) -> str:
    """UTF-8 text of `data` (a UTF-8 byte-order mark is dropped); other encodings are refused."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise error(where, "(encoding)", f"UTF-8 text (this file is {name}: save it as UTF-8)")
    if b"\x00" in data:
        head = data[:200]
        if head.count(b"\x00") * 3 >= len(head):  # every other byte zero: UTF-16 without a BOM
            raise error(where, "(encoding)", "UTF-8 text (this file looks like UTF-16: save it "
                        "as UTF-8)")
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise error(f"{where}:{line}", "(encoding)", "a text file (found binary data: a NUL byte)")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(f"{where}:{line}", "(encoding)",
                    f"UTF-8 text (byte 0x{data[exc.start]:02x} at column {col} is not UTF-8: "
                    "save the file as UTF-8)") from None


# ---------------------------------------------------------------------------- YAML

class _RefusedError(Exception):
    def __init__(self, mark: Any, field: str, expected: str, got: object = None):
        super().__init__(expected)
        self.mark, self.field, self.expected, self.got = mark, field, expected, got


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, tags or merge keys, refusing repeated keys, deep nesting and
    files with very many values."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._aliases = self._depth = self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _RefusedError(event.start_mark, "(alias)", "valid YAML without aliases (write the "
                               "value out instead of '*name')", f"*{event.anchor}")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise _RefusedError(event.start_mark, "(tag)", "valid YAML without tags ('!!type' or "
                           "'!name')", tag)
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _RefusedError(event.start_mark, "(nesting)",
                               f"at most {MAX_DEPTH} levels of nested lists and mappings")
            if self._nodes > MAX_NODES:
                raise _RefusedError(event.start_mark, "(size)", f"at most {MAX_NODES:,} values in a file")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        out: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _RefusedError(key_node.start_mark, "<<", "valid YAML without merge keys ('<<')")
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise _RefusedError(key_node.start_mark, "(key)", "a plain key (a name), not a "
                               + type(key).__name__) from None
            if key in out:
                raise _RefusedError(key_node.start_mark, str(key), "each key once in a mapping (this "
                               "key is repeated; YAML would keep only the last value)")
            out[key] = self.construct_object(value_node, deep=deep)
        return out


_CACHE: dict[bytes, Any] = {}
_CACHE_SIZE = 256


def parse_yaml(text: str, where: str, error: type[InputError] = InputError) -> Any:
    """Parse YAML text strictly (see the module docstring)."""
    loader = None
    try:
        loader = _StrictLoader(text)  # the reader refuses control characters here already
        return loader.get_single_data()
    except _RefusedError as exc:
        raise error(_at(where, exc.mark), exc.field, exc.expected, exc.got) from None
    except yaml.reader.ReaderError as exc:
        line = text[: max(exc.position, 0)].count("\n") + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise error(f"{where}:{line}", "(encoding)", "text without control characters (found "
                    f"character U+{ord(char):04X})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
        detail = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(_at(where, mark), "(syntax)", f"valid YAML ({problem}{detail})") from None
    except RecursionError:  # not reachable with MAX_DEPTH, kept as a last guard
        raise error(where, "(nesting)", f"at most {MAX_DEPTH} levels of nesting") from None
    finally:
        if loader is not None:
            loader.dispose()


def _at(where: str, mark: Any) -> str:
    return f"{where}:{mark.line + 1}" if mark is not None else where


def read_yaml(path: str | Path, error: type[InputError] = InputError,
              what: str = "YAML file") -> Any:
    """Read, decode and parse one YAML file through the boundary; a fresh copy every call.

    Parsed files are cached by their content (not by name or time stamp), so a file edited
    between two loads is always read anew."""
    p = Path(path)
    data = read_bytes(p, error, what)
    key = hashlib.blake2b(data, digest_size=20).digest()
    if key in _CACHE:
        return copy.deepcopy(_CACHE[key])
    value = parse_yaml(decode(data, str(p), error), str(p), error)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = copy.deepcopy(value)
    return value


def read_mapping(path: str | Path, error: type[InputError] = InputError,
                 what: str = "YAML file") -> dict[str, Any]:
    """`read_yaml` of a file whose top level must be a mapping with text keys."""
    raw = read_yaml(path, error, what)
    if not isinstance(raw, dict):
        raise error(str(path), "(top level)", f"a mapping of fields ({what})", type(raw).__name__)
    check_keys(raw, str(path), "", error)
    return raw


def check_keys(mapping: Mapping, where: str, field: str, error: type[InputError]) -> None:
    """Every key of `mapping` is text (`on:`/`yes:` would be read as true by YAML)."""
    for key in mapping:
        if not isinstance(key, str):
            at = f"{field}.{key}" if field else str(key)
            raise error(where, at, "names (text) as keys; quote keys such as on, yes, no or "
                        "numbers", key)


# ---------------------------------------------------------------------------- strict schemas

def _numeric(tp: Any) -> bool:
    return tp in (int, float)


def not_a_number(value: Any, annotation: Any) -> Any:
    """The first bool or text found where `annotation` expects a number, or non-bool where it
    expects true/false (None if there is none)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if _numeric(annotation):
        return value if isinstance(value, bool | str) else None
    if annotation is bool:
        return None if isinstance(value, bool) else value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, bool) and bool in args):
            return None
        if isinstance(value, str) and str in args:
            return None
        if any(_numeric(a) for a in args) and isinstance(value, bool | str):
            return value
        for a in args:
            if a is not type(None) and not _numeric(a):
                found = not_a_number(value, a)
                if found is not None:
                    return found
        return None
    if origin in (tuple, list, set, frozenset) and isinstance(value, list | tuple):
        if origin is tuple and args and args[-1] is not Ellipsis:
            pairs = zip(value, args, strict=False)
        else:
            pairs = ((v, args[0] if args else Any) for v in value)
        for v, a in pairs:
            found = not_a_number(v, a)
            if found is not None:
                return found
        return None
    if origin is dict and isinstance(value, Mapping) and len(args) == 2:
        for v in value.values():
            found = not_a_number(v, args[1])
            if found is not None:
                return found
    return None


class StrictInput(BaseModel):
    """Base of input schemas: no unknown fields, no inf/nan, no true/false or text for numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: Any) -> Any:
        field = cls.model_fields.get(info.field_name)
        if field is not None:
            bad = not_a_number(value, field.annotation)
            if bad is not None:
                if field.annotation is bool:
                    raise ValueError(f"true or false, not {type(bad).__name__} ({shorten(bad)})")
                kind = "true/false" if isinstance(bad, bool) else "text"
                hint = ""
                if isinstance(bad, str):
                    try:
                        float(bad)
                        hint = "; YAML reads 1e12 as text: write 1.0e+12"
                    except ValueError:
                        pass
                raise ValueError(f"a number, not {kind} ({shorten(bad)}{hint})")
        return value


_PHRASES = {
    "finite_number": "a finite number (not inf or nan)",
    "missing": "a value (this field is required)",
    "extra_forbidden": "no such field (check the spelling)",
    "int_from_float": "a whole number",
    "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_type": "text",
    "bool_type": "true or false",
}


_BOUNDS = {"greater_than_equal": ("ge", "greater than or equal to"),
           "greater_than": ("gt", "greater than"),
           "less_than_equal": ("le", "less than or equal to"), "less_than": ("lt", "less than")}


def describe_validation(exc: ValidationError) -> tuple[str, str, object]:
    """(field path, what was expected, what was found) of the first error of a pydantic error."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(entry)"
    kind, ctx = err["type"], err.get("ctx") or {}
    got = err.get("input")
    if kind in ("missing", "extra_forbidden"):
        got = None
    if kind in _PHRASES:
        return field, _PHRASES[kind], got
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        return field, f"a number {sign} {ctx.get(key)}", got
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return field, f"a list of at least {n} item{'s' if n != 1 else ''} (not empty)", got
    if kind == "too_long":
        return field, f"a list of at most {ctx.get('max_length')} items", got
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    msg = msg[:1].lower() + msg[1:]
    if kind == "value_error" and isinstance(got, dict | list):
        # a check across fields: its message says what was found; the entry itself is long
        if not msg.startswith(("a ", "an ")):
            msg = f"a consistent entry ({msg})"
        got = None
    return field, msg, got


def one_of(names: Iterable[str], given: object = None, shown: int = 8) -> str:
    """'a, b, c, ... (40 in all; did you mean 'x'?)': a short list of the accepted names."""
    import difflib

    names = list(names)
    text = ", ".join(names[:shown]) + (f", ... ({len(names)} in all)" if len(names) > shown
                                       else "")
    if isinstance(given, str):
        close = difflib.get_close_matches(given, names, n=1)
        if close:
            text += f"; did you mean '{close[0]}'?"
    return text


# ---------------------------------------------------------------------------- paths and names

def search_path() -> list[Path]:
    """Folders the user allowed with --search-path (environment variable UVTS_SEARCH_PATH)."""
    raw = os.environ.get(SEARCH_ENV, "")
    return [Path(p).resolve() for p in raw.split(os.pathsep) if p.strip()]


def allowed_roots(base_dir: Path | None) -> list[Path]:
    """Where referenced files may be: the project's scenarios, the referring file's folder
    (`base_dir`, and below) and the user's search path."""
    roots = [SCENARIO_ROOT.resolve()]
    if base_dir is not None:
        roots.append(Path(base_dir).resolve())
    return roots + search_path()


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _roots_text(roots: list[Path]) -> str:
    return ", ".join(str(r) for r in dict.fromkeys(roots))


def reference(ref: object, where: str, base_dir: Path, field: str, error: type[InputError],
              what: str = "scenario file", bases: list[Path] | None = None) -> Path:
    """The file `ref` names, relative to `base_dir` (the referring file's folder), or to the first
    of `bases` where it exists; refused unless it lies inside `allowed_roots(base_dir)`."""
    if not isinstance(ref, str) or not ref.strip():
        raise error(where, field, f"a path to a {what} (text)", ref)
    if "\x00" in ref or len(ref) > 1000:
        raise error(where, field, f"a path to a {what}", ref)
    p = Path(ref).expanduser() if ref.startswith("~") else Path(ref)
    roots = allowed_roots(base_dir)
    cands = [p] if p.is_absolute() else [b / p for b in (bases or [base_dir])]
    tried = []
    for cand in cands:
        try:
            real = cand.resolve()
        except (OSError, RuntimeError):
            continue
        tried.append(real)
        if _inside(real, roots) and real.is_file():
            return real
    inside = [str(t) for t in tried if _inside(t, roots)]
    if not inside:
        raise error(where, field, f"a {what} inside {_roots_text(roots)} (files elsewhere are "
                    "not read; allow a folder with --search-path)", ref)
    raise error(where, field, f"an existing {what} (looked for {', '.join(inside)})", ref)


def references(pattern: object, where: str, base_dir: Path, field: str,
               error: type[InputError], what: str = "intervention file") -> list[Path]:
    """The files a `use:` value names: a path or a glob pattern relative to `base_dir`, inside
    `allowed_roots(base_dir)`."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise error(where, field, f"a path or pattern naming {what}s (text)", pattern)
    if not any(c in pattern for c in "*?["):
        return [reference(pattern, where, base_dir, field, error, what)]
    if "\x00" in pattern or len(pattern) > 1000:
        raise error(where, field, f"a path or pattern naming {what}s", pattern)
    roots = allowed_roots(base_dir)
    full = os.path.normpath(os.path.join(base_dir.resolve(), os.path.expanduser(pattern)))
    literal = Path(re.split(r"[*?\[]", full, maxsplit=1)[0]).parent
    if not _inside(literal.resolve(), roots):
        raise error(where, field, f"a pattern inside {_roots_text(roots)} (files elsewhere are "
                    "not read; allow a folder with --search-path)", pattern)
    found: list[Path] = []
    for name in sorted(glob.iglob(full)):
        real = Path(name).resolve()
        if real.is_file() and _inside(real, roots):
            found.append(real)
            if len(found) > MAX_GLOB_MATCHES:
                raise error(where, field, f"a pattern matching at most {MAX_GLOB_MATCHES} files",
                            pattern)
    if not found:
        raise error(where, field, "a pattern matching files", pattern)
    return found


def read_interventions(path: Path, error: type[InputError]) -> list[dict[str, Any]]:
    """An intervention file: one mapping or a list of mappings, with text keys."""
    raw = read_yaml(path, error, "intervention file")
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise error(str(path), "(top level)", "an intervention (a mapping) or a list of them",
                    "an empty list")
    for k, item in enumerate(items):
        at = f"[{k}]" if isinstance(raw, list) else "(top level)"
        if not isinstance(item, dict):
            raise error(str(path), at, "an intervention (a mapping of fields)",
                        type(item).__name__)
        check_keys(item, str(path), "" if at == "(top level)" else at, error)
        _check_id(item, str(path), at, error)
        _no_private(item, str(path), at, error)
    return items


def _check_id(entry: Mapping, where: str, at: str, error: type[InputError]) -> None:
    if "id" in entry and (not isinstance(entry["id"], str) or not entry["id"].strip()):
        field = "id" if at == "(top level)" else f"{at}.id"
        raise error(where, field, "an id (text)", entry["id"])


def _no_private(entry: Mapping, where: str, at: str, error: type[InputError]) -> None:
    for key in entry:
        if key.startswith("_"):
            raise error(where, f"{at}.{key}", "no such field (check the spelling)")


def expand_uses(entries: object, where: str, base_dir: Path, error: type[InputError],
                fresh: bool = False) -> list[dict[str, Any]]:
    """Intervention entries with every `use:` reference replaced by the interventions it names.

    Each entry gets `_file` (where its fields were written); an entry from `use:` also gets
    `_ref` (the referring file and entry) and `_overrides` (the fields the referring entry sets),
    so errors in an override are blamed on the file the user wrote. `fresh`: the entries come
    straight from a file (none is expanded already)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise error(where, "interventions", "a list of interventions", type(entries).__name__)
    out: list[dict[str, Any]] = []
    for k, entry in enumerate(entries):
        at = f"interventions[{k}]"
        if not isinstance(entry, dict):
            raise error(where, at, "an intervention (a mapping of fields, or 'use: FILE')", entry)
        if not fresh and "_file" in entry and "use" not in entry:  # expanded already
            out.append(entry)
            continue
        check_keys(entry, where, at, error)
        _no_private(entry, where, at, error)
        _check_id(entry, where, at, error)
        if "use" not in entry:
            out.append({**entry, "_file": where})
            continue
        overrides = {key: v for key, v in entry.items() if key != "use"}
        for p in references(entry["use"], where, base_dir, f"{at}.use", error):
            for item in read_interventions(p, error):
                out.append({**item, **overrides, "_file": str(p), "_ref": f"{where}|{at}",
                            "_overrides": sorted(overrides)})
    return out


_NAME_BAD = re.compile(r"[/\\\x00-\x1f\x7f:*?\"<>|]")


def check_name(name: object, where: str, field: str, error: type[InputError]) -> str:
    """A name that becomes part of an output folder's name: text of 1-80 characters, no path
    separators, control characters or leading dot."""
    if not isinstance(name, str):
        raise error(where, field, "a name (text)", name)
    if not name.strip() or len(name) > 80 or name.startswith(".") or _NAME_BAD.search(name):
        raise error(where, field, "a name of 1-80 characters without '/', '\\', ':', control "
                    "characters or a leading '.' (it becomes part of a folder name)", name)
    return name


def safe_name(name: str) -> str:
    """`name` with everything but letters, digits, '-', '_' and '.' replaced by '_' (no leading
    dots): safe as one component of an output path."""
    out = re.sub(r"[^\w.-]", "_", str(name)).lstrip(".")
    return out[:80] or "unnamed"


# ---------------------------------------------------------------------------- policies

def outside_range_allowed() -> bool:
    """True when the user allowed parameter values outside their plausible ranges."""
    return os.environ.get(ALLOW_ENV, "") == "1"


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or with None remove) environment variables for the duration of the block."""
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def allowing_outside_range(on: bool = True) -> Any:
    """Context manager: allow (or refuse) values outside plausible ranges inside the block."""
    return environment(**{ALLOW_ENV: "1" if on else None})
