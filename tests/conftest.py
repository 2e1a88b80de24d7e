"""Shared fixtures: compose the real config tree with Hydra, as `python -m odin` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import DictConfig

from odin.schema import CONF_DIR, compose_config, register_configs

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT_FILES = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))

register_configs()


def raw_data_dir() -> Path | None:
    """The raw corpora: $ODIN_RAW_DATA, else ../shared/data/raw beside the repo; None when neither exists."""
    candidates = [os.environ.get("ODIN_RAW_DATA"), str(REPO.parent / "shared" / "data" / "raw")]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


@pytest.fixture(scope="session")
def raw_data() -> Path:
    path = raw_data_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("The raw corpora are required in CI: set ODIN_RAW_DATA or put them at ../shared/data/raw")
        pytest.skip("raw corpora not found: set ODIN_RAW_DATA to the folder holding ade/, bc5cdr/, biored/")
    return path


def compose_cfg(overrides: list[str] | None = None, output_dir: Path | None = None) -> DictConfig:
    """The composed config for `python -m odin <overrides>`, with the Hydra run dir set to `output_dir`."""
    return compose_config(overrides or [], output_dir or "/nonexistent-run-dir")


@pytest.fixture
def make_cfg(tmp_path):
    """`make_cfg(["model=tiny_random", ...])` -> composed config whose run dir is a fresh tmp folder."""

    def _make(overrides: list[str] | None = None) -> DictConfig:
        return compose_cfg(overrides, output_dir=tmp_path / "run")

    return _make
