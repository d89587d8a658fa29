"""A dataset directory, written so that a crash at any moment loses nothing already accepted and
corrupts nothing:

    DIR/<task_id>.bddl        one BDDL problem per task (emx.load_tasks(DIR) reads them; the id
                              that `emx tasks list --source DIR` prints is the file stem)
    DIR/metadata.jsonl        one JSON object per task, appended line-atomically: id, command,
                              source, seed, transcript ids, validation, difficulty features
    DIR/scenes/<id>.json      scene files (`emx gen scenes`), validated by emx.scenes
    DIR/dataset.json          run summaries (acceptance per stage, rejections by reason)

Files are written to a temporary name and renamed into place. A metadata line is appended only
after its BDDL file is in place, so the metadata is the record of what is done: a resumed run
skips ids already there, rewrites (identically) a BDDL file whose line never made it, and drops
a torn last line left by a crash mid-append.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["Dataset", "atomic_write_text", "append_jsonl", "read_jsonl"]

METADATA = "metadata.jsonl"
SUMMARY = "dataset.json"
SCENES = "scenes"


def atomic_write_text(path: str | os.PathLike[str], text: str, fsync: bool = True) -> Path:
    """Writes to a temporary name in the same folder and renames it into place. ``fsync=False``
    keeps crash safety against a killed process (the rename is atomic) and leaves durability
    against power loss to a later ``os.sync()`` (``Dataset.add_all`` does one per batch)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _repair_tail(path: Path) -> None:
    """Cuts a torn last line (a crash mid-append) so the next append starts on a fresh line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        # find the last newline
        pos = size
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            block = f.read(pos - start)
            i = block.rfind(b"\n")
            if i >= 0:
                f.truncate(start + i + 1)
                return
            pos = start
        f.truncate(0)


def append_jsonl(path: str | os.PathLike[str], rows: Iterable[dict]) -> int:
    """Appends rows, one ``write`` per line on an O_APPEND descriptor, fsync at the end."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _repair_tail(path)
    n = 0
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for row in rows:
            data = (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            n += 1
        os.fsync(fd)
    finally:
        os.close(fd)
    return n


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict]:
    """Rows of a JSONL file; a torn or unreadable line is skipped (it is what a crash leaves)."""
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


class Dataset:
    """A dataset directory (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def metadata_path(self) -> Path:
        return self.root / METADATA

    def bddl_path(self, task_id: str) -> Path:
        return self.root / f"{task_id}.bddl"

    def scene_dir(self) -> Path:
        return self.root / SCENES

    def metadata(self) -> dict[str, dict]:
        """id -> its metadata row (the last one when an id appears twice)."""
        return {row["id"]: row for row in read_jsonl(self.metadata_path) if isinstance(row.get("id"), str)}

    def ids(self) -> set[str]:
        return set(self.metadata())

    def add_all(self, tasks: Iterable[Any], summary: dict | None = None, batch_size: int = 128) -> dict:
        """Adds GeneratedTask-like objects (``id``, ``bddl``, ``command``, ``metadata``), skipping
        ids already in the dataset. Returns {"root", "written", "skipped"}."""
        done = self.ids()
        written = skipped = 0
        self.root.mkdir(parents=True, exist_ok=True)
        batch: list[dict] = []
        for task in tasks:
            if task.id in done or any(r["id"] == task.id for r in batch[-1:]):
                skipped += 1
                continue
            batch.append(self._write_problem(task))
            done.add(task.id)
            written += 1
            if len(batch) >= batch_size:
                self._commit(batch)
                batch = []
        self._commit(batch)
        if summary is not None:
            self.add_summary(summary)
        return {"root": str(self.root), "written": written, "skipped": skipped}

    def add(self, task: Any) -> None:
        self._commit([self._write_problem(task)])

    def _write_problem(self, task: Any) -> dict:
        _check_id(task.id)
        atomic_write_text(self.bddl_path(task.id), task.bddl, fsync=False)
        row = dict(task.metadata)
        row.update({"id": task.id, "command": task.command, "file": f"{task.id}.bddl",
                    "sha1": hashlib.sha1(task.bddl.encode("utf-8")).hexdigest()})
        return row

    def _commit(self, rows: list[dict]) -> None:
        """The problems of ``rows`` are on disk: make them durable, then record them."""
        if not rows:
            return
        if hasattr(os, "sync"):
            os.sync()
        append_jsonl(self.metadata_path, rows)

    def verify(self) -> list[str]:
        """Ids whose BDDL file is missing or differs from the hash in its metadata row."""
        bad = []
        for task_id, row in self.metadata().items():
            try:
                data = self.bddl_path(task_id).read_bytes()
            except FileNotFoundError:
                bad.append(task_id)
                continue
            if row.get("sha1") and hashlib.sha1(data).hexdigest() != row["sha1"]:
                bad.append(task_id)
        return sorted(bad)

    def summaries(self) -> list[dict]:
        try:
            data = json.loads((self.root / SUMMARY).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return []
        return list(data.get("runs", [])) if isinstance(data, dict) else []

    def add_summary(self, summary: dict) -> None:
        runs = self.summaries() + [summary]
        atomic_write_text(self.root / SUMMARY, json.dumps({"format": "emx-dataset/1", "runs": runs}, indent=1))


def _check_id(task_id: str) -> None:
    if not task_id or "/" in task_id or "\\" in task_id or task_id.startswith(".") or len(task_id) > 200:
        raise ValueError(f"bad task id {task_id!r}: ids are file stems")
