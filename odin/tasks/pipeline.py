"""task=pipeline (the default): prepare -> train -> eval, all in one run directory."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig


def run(cfg: DictConfig) -> dict[str, float]:
    from odin.modeling.backends import resolve_backend
    from odin.tasks.evaluate import evaluate
    from odin.data.prepare import ensure_prepared
    from odin.tasks.train import train

    # Unsloth must be imported before anything else loads transformers, so the backend is settled first.
    resolve_backend(cfg.model)
    run_dir = Path(cfg.paths.output_dir)
    data_dir = ensure_prepared(cfg, run_dir)
    model_dir = train(cfg, data_dir, run_dir)
    return evaluate(cfg, data_dir, model_dir, run_dir)
