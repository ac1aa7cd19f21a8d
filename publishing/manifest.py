"""What a release manifest records about the code and the reference data it was built from."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from ingestion.dictionary import SEEDS_DIR


def dictionary_version() -> str:
    digest = hashlib.sha256()
    for seed in sorted(SEEDS_DIR.glob("*.csv")):
        digest.update(seed.name.encode())
        digest.update(seed.read_bytes())
    return digest.hexdigest()[:16]


def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
