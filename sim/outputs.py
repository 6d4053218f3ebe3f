"""Output folders: a command writes to a fresh folder or replaces only the files it owns.

`uvts run` and `uvts compare` write through `OutputFolder`:
- a lock file (`.lock`, holding the writer's pid; the same lock `uvts sweep` takes) refuses a
  second command writing to the folder at the same time;
- a folder that holds files no uvts command wrote, or a sweep, is refused before anything runs;
- files of an earlier run or comparison (listed in `.uvts-files.json`) are moved aside into
  `.uvts-previous/` while the new command runs, deleted when it succeeds and put back when it
  fails or is interrupted, so runs never mix and a failed command never destroys earlier results;
- on success `.uvts-files.json` lists the files the command wrote (the folder's file manifest).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.errors import OutputError

LOCK = ".lock"
FILES = ".uvts-files.json"
PREVIOUS = ".uvts-previous"


def _hidden(p: Path) -> bool:
    return p.name.startswith(".")


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not _hidden(p))


def _alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_lock(folder: Path) -> Path:
    """Create `folder/.lock` with this process's pid; refuse if a live process holds it."""
    path = folder / LOCK
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                text = path.read_text(encoding="utf-8", errors="replace").strip()
                pid = int(text or 0)
            except (OSError, ValueError):
                pid = 0
            if _alive(pid):
                raise OutputError(str(folder), LOCK, "a folder no other uvts command is writing "
                                  f"to (process {pid} is; wait for it or use another --out)") \
                    from None
            path.unlink(missing_ok=True)  # stale: its writer is gone
            continue
        except OSError as exc:
            raise OutputError(str(folder), "(folder)", f"a folder this user can write to "
                              f"({exc.strerror})") from None
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return path
    raise OutputError(str(folder), LOCK, "a folder no other uvts command is writing to")


def read_files_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's file manifest (None if there is none or it is unreadable)."""
    try:
        data = json.loads((folder / FILES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), list) else None


def is_sweep_folder(folder: Path) -> bool:
    """True when `folder` holds a sweep (`uvts sweep`): a manifest.json with a spec hash."""
    try:
        man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(man, dict) and "spec_hash" in man


def _legacy_owned(folder: Path) -> list[str] | None:
    """Files of a run or comparison written before file manifests existed: a manifest.json with
    a command and only files (no sub-folders)."""
    try:
        man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(man, dict) or "command" not in man:
        return None
    entries = _visible(folder)
    if any(p.is_dir() for p in entries):
        return None
    return [p.name for p in entries]


def write_files_manifest(folder: Path, command: str, files: list[str]) -> None:
    """Write `.uvts-files.json` atomically."""
    body = {"command": command, "files": sorted(files),
            "written_utc": datetime.now(UTC).isoformat(timespec="seconds"), "pid": os.getpid()}
    tmp = folder / f"{FILES}.tmp"
    tmp.write_text(json.dumps(body, indent=2), encoding="utf-8")
    os.replace(tmp, folder / FILES)


class OutputFolder:
    """Context manager owning an output folder for one command (see the module docstring)."""

    def __init__(self, path: str | Path, command: str):
        self.path = Path(path)
        self.command = command
        self.created = False
        self.lock: Path | None = None

    def __enter__(self) -> Path:
        p = self.path
        if p.exists() and not p.is_dir():
            raise OutputError(str(p), "--out", "a folder (this is a file)")
        try:
            self.created = not p.exists()
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(str(p), "--out", f"a folder that can be created ({exc.strerror})") \
                from None
        self.lock = acquire_lock(p)
        try:
            self._recover()
            owned = self._owned()
            prev = p / PREVIOUS
            if owned:
                prev.mkdir()
                for name in owned:
                    if (p / name).exists():
                        os.replace(p / name, prev / name)
        except BaseException:
            self._release()
            raise
        return p

    def _owned(self) -> list[str]:
        p = self.path
        entries = _visible(p)
        if not entries:
            return []
        if is_sweep_folder(p):
            raise OutputError(str(p), "--out", "a folder for this command's results (this one "
                              "holds a sweep; use another --out)")
        man = read_files_manifest(p)
        owned = [str(f) for f in man["files"]] if man is not None else _legacy_owned(p)
        foreign = [e.name for e in entries if owned is None or e.name not in owned]
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise OutputError(str(p), "--out", "an empty folder or one holding only results of "
                              f"an earlier uvts run (this one also holds {shown}; use another "
                              "--out or empty it)")
        return [name for name in owned if "/" not in name and not name.startswith(".")]

    def _recover(self) -> None:
        """A command killed while writing left `.uvts-previous/`: put the earlier files back."""
        p = self.path
        prev = p / PREVIOUS
        if not prev.is_dir():
            return
        man = read_files_manifest(p)
        listed = set(man["files"]) if man else {e.name for e in prev.iterdir()}
        for e in _visible(p):
            if e.name not in listed and e.is_file():
                e.unlink()
        for e in prev.iterdir():
            os.replace(e, p / e.name)
        prev.rmdir()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        with _no_interrupt():
            try:
                if exc_type is None:
                    self._commit()
                else:
                    self._rollback()
            finally:
                self._release()

    def _commit(self) -> None:
        p = self.path
        for tmp in p.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        write_files_manifest(p, self.command, [e.name for e in _visible(p)])
        shutil.rmtree(p / PREVIOUS, ignore_errors=True)

    def _rollback(self) -> None:
        p = self.path
        prev = p / PREVIOUS
        with contextlib.suppress(OSError):
            for e in _visible(p):
                if e.is_dir():
                    shutil.rmtree(e, ignore_errors=True)
                else:
                    e.unlink(missing_ok=True)
            for tmp in p.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
            if prev.is_dir():
                for e in prev.iterdir():
                    os.replace(e, p / e.name)
                prev.rmdir()

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.unlink(missing_ok=True)
            self.lock = None
        if self.created:
            with contextlib.suppress(OSError):
                if not any(self.path.iterdir()):
                    self.path.rmdir()


@contextlib.contextmanager
def _no_interrupt():
    """Ignore Ctrl-C while files are being moved into place or back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def check_sweep_out(folder: Path) -> None:
    """Refuse to start a sweep in a folder holding something other than a sweep."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(str(folder), "--out", "a folder (this is a file)")
    if not folder.is_dir() or is_sweep_folder(folder):
        return
    entries = [e.name for e in _visible(folder)]
    if entries:
        man = read_files_manifest(folder)
        what = f"the results of `uvts {man['command']}`" if man else ", ".join(entries[:5])
        raise OutputError(str(folder), "--out", f"an empty folder or an earlier sweep's folder "
                          f"(this one holds {what}; use another --out)")


def require_sweep_folder(folder: Path) -> None:
    """Refuse to analyse a folder that does not hold a sweep."""
    if not folder.is_dir():
        raise OutputError(str(folder), "(folder)", "a sweep's output folder (it does not exist)")
    if not is_sweep_folder(folder) or not (folder / "design.parquet").is_file():
        man = read_files_manifest(folder)
        what = f"it holds the results of `uvts {man['command']}`" if man else \
            "it has no manifest.json and design.parquet of a sweep"
        raise OutputError(str(folder), "(folder)", f"the output folder of `uvts sweep` ({what})")
