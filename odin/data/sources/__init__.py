"""One module per corpus: each knows its own files and nothing of splits, templates or models."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from odin.errors import OdinError


def corpus_location(name: str, path: Optional[str], raw_data_dir: Optional[str]) -> Optional[tuple[Path, str]]:
    """Where a corpus' files are and which config key said so: `data.sources.<name>.path`, else
    `<paths.raw_data_dir>/<name>`; None when neither is set (the source then uses the Hub or says how to get it).
    A location that is set but missing is an error naming the key."""
    if path:
        location, key = Path(path).expanduser(), f"data.sources.{name}.path"
    elif raw_data_dir:
        location, key = Path(raw_data_dir).expanduser() / name, "paths.raw_data_dir"
    else:
        return None
    if not location.exists():
        raise OdinError(f"{name} data {location} (from {key}) does not exist; point {key} at the corpus files")
    return location, key
