"""task=prepare: raw corpora and generators -> train/val/test Alpaca records, statistics and a dataset card in
`<run dir>/data/` (the pipeline itself is odin/data/prepare.py)."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig

from odin.data import prepare as data_prepare


def check(cfg: DictConfig) -> None:
    data_prepare.check(cfg)


def run(cfg: DictConfig) -> dict[str, float]:
    check(cfg)
    data_dir = data_prepare.prepare(cfg, Path(cfg.paths.output_dir) / "data")
    stats = json.loads((data_dir / "stats.json").read_text())
    return {f"{split}_examples": float(s["examples"]) for split, s in stats["splits"].items()}
