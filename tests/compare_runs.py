"""Run directories as odin writes them, built from hand-made generations (no model): for compare tests and bench."""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

from odin.evaluation import build_results, score_generations, write_results
from odin.extraction import Entity, Extraction, Relation
from odin.format import render, to_record


def note(i: int) -> tuple[dict, Extraction]:
    """Example i: one drug causing one symptom, with its Alpaca record."""
    drug, symptom = f"drug{i}", f"symptom{i}"
    gold = Extraction.of([Entity(drug, "Drug"), Entity(symptom, "Symptom")], [Relation(drug, "causes", symptom)])
    return {**to_record(f"{drug} was followed by {symptom}.", gold), "id": f"ex{i}"}, gold


def answers(n: int, found: float, seed: int) -> list[str]:
    """Generations for notes 0..n-1: the drug always, the symptom and the relation each with probability `found`."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        _, gold = note(i)
        drug, symptom = gold.entities
        hit = rng.random() < found
        out.append(render([drug, *([symptom] if hit else [])], list(gold.relations) if hit else []))
    return out


def write_run(run_dir: Path, generations: list[str], *, config: dict | None = None, overrides: list[str] = (),
              records: list[dict] | None = None, generation_s: float = 2.0) -> Path:
    """A run directory with .hydra/{config,overrides}.yaml and the evaluation_results.json of `generations`."""
    records = records if records is not None else [note(i)[0] for i in range(len(generations))]
    scores, examples = score_generations(records, generations)
    results = build_results(scores, examples, model_dir=None, model_name="hand-made", split="test",
                            generation_s=generation_s)
    write_results(results, Path(run_dir) / "evaluation_results.json")
    write_hydra(run_dir, config, overrides)
    return Path(run_dir)


def write_hydra(run_dir: Path, config: dict | None = None, overrides: list[str] = ()) -> None:
    hydra = Path(run_dir) / ".hydra"
    hydra.mkdir(parents=True, exist_ok=True)
    base = {"task": "pipeline", "version": "dev", "seed": 42,
            "lora": {"r": 16, "alpha": 16, "target_modules": ["q_proj"]},
            "training": {"epochs": 1.0, "learning_rate": 2e-4}}
    (hydra / "config.yaml").write_text(yaml.safe_dump(_merge(base, config or {}), sort_keys=False))
    (hydra / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))


def write_failure(run_dir: Path, config: dict | None = None, overrides: list[str] = (), *,
                  error_type: str = "OutOfMemoryError", message: str = "CUDA out of memory") -> Path:
    write_hydra(run_dir, config, overrides)
    (Path(run_dir) / "failure.json").write_text(json.dumps(
        {"status": "FAILED", "error_type": error_type, "message": message, "time": "2026-11-26T10:00:00+00:00"}))
    return Path(run_dir)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
