"""task=prepare: raw corpora and generators -> train/val/test Alpaca records, statistics and a dataset card in
`<run dir>/data/` (the pipeline itself is odin/data/prepare.py)."""

from __future__ import annotations

import json

from omegaconf import DictConfig

from odin.data import prepare as data_prepare


def check(cfg: DictConfig) -> None:
    """The data settings, and the tokenizer that counts tokens (the configured model's), before any work."""
    from odin.modeling.load import check_available

    data_prepare.check(cfg)
    check_available(cfg.model, cfg.paths.cache_dir)


def run(ctx) -> dict[str, float]:
    data_dir = data_prepare.prepare(ctx.cfg, ctx.run_dir / "data")
    ctx.tracker.log_dataset(data_dir)
    stats = json.loads((data_dir / "stats.json").read_text())
    return {f"{split}_examples": float(s["examples"]) for split, s in stats["splits"].items()}
