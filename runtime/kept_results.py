"""Results kept in the home by the key of what they were computed from, so that a run
computes again only what changed (the report's charts, the gate's validations).

A result is a pure function of its inputs; its key is a sha256 of all of them, so a kept
result is the result that would be computed. A kept result is one JSON file in the folder;
a file that cannot be read, or that its reader does not accept, counts as a miss (computed
again), and one not used for `KEEP_DAYS` is removed by `prune`. Writes are atomic: a reader
never sees half a file. A result that cannot be kept (a full disk, a read-only home) costs
its computing next time, never the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEEP_DAYS = 30
_SUFFIX = ".json"


def _as_is(value: Any) -> Any:
    return value


class KeptResults:
    """JSON results by key, in `folder` (created on the first result kept)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0
        self.not_kept: str | None = None  # why the last result that could not be kept was not
        self._pruned = False

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{_SUFFIX}"

    def get(self, key: str, read: Callable[[Any], Any] = _as_is) -> Any | None:
        """The result kept under `key`, as `read` makes it from the JSON, or None: none kept,
        unreadable, or refused by `read` (ValueError)."""
        path = self._path(key)
        try:
            value = read(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            self.misses += 1
            return None
        with contextlib.suppress(OSError):  # a result used is kept another KEEP_DAYS
            os.utime(path)
        self.hits += 1
        return value

    def put(self, key: str, value: Any) -> None:
        """Keep `value` (JSON-serialisable) under `key`; should it fail, say why in
        `not_kept` (for the caller to log)."""
        partial = self.folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(value), encoding="utf-8")
            partial.replace(self._path(key))
        except OSError as exc:
            self.not_kept = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)

    def prune(self, now: float | None = None) -> int:
        """Remove the results not used for KEEP_DAYS; how many were removed. Once for each
        cache object: those of a release or a gate step are asked after every report (the 50
        packs) or suite batch, and a second look finds nothing a day older."""
        limit = (time.time() if now is None else now) - KEEP_DAYS * 86400
        removed = 0
        if self._pruned or not self.folder.is_dir():
            return removed
        self._pruned = True
        for path in self.folder.glob(f"*{_SUFFIX}"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # another run pruned it meanwhile
                pass
        return removed
