"""Bring run directories that MLflow has not seen into it, so the history there is complete.

Two layouts are read:
- an odin run directory: `.hydra/config.yaml`, and any of `trainer_state.json` (training metrics by step),
  `evaluation_results.json`, `data/stats.json` + `data/README.md`, `final_model/`, `failure.json`;
- the seed-era layout of the original project: a folder (e.g. `experiments/medical_ner_re_v13/`) holding
  `evaluation_results*.json` with `entity_metrics`/`relation_metrics` (micro and macro P/R/F1, TP/FP/FN) and maybe a
  `trainer_state.json`; the version comes from the folder name (`..._v13` -> v13, no suffix -> v1). Each results
  file becomes one run.

Every directory is read and checked completely before anything is logged (a `RunRecord`), so one that cannot be read
is reported with the reason and skipped, never half-imported; a run whose logging fails midway is deleted again.
Each run carries its identity as the tag `odin.run_key` (the one live runs carry too), which makes backfill
idempotent: a run already in the experiment is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from odin.errors import OdinError
from odin.tracking import dataset_params, evaluation_metrics, flatten, redact, run_key

log = logging.getLogger(__name__)

_RUN_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})")
_SEED_VERSION = re.compile(r"_(v\d+[a-z]?)$")


@dataclass
class RunRecord:
    """Everything one MLflow run will hold, read and checked before any of it is logged."""

    key: str
    name: str
    start_ms: int
    end_ms: int
    status: str = "FINISHED"
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[tuple[str, float, int]] = field(default_factory=list)  # (key, value, step): training by step
    artifacts: list[tuple[Path, str | None]] = field(default_factory=list)  # (path, artifact folder)


# Folders where MLflow keeps its own copies of artifacts: never run directories.
_STORE_FOLDERS = {"mlartifacts", "mlruns"}


def find_runs(roots: list[Path]) -> Iterator[Path]:
    """Run directories under `roots`: odin's (a `.hydra/config.yaml`) and seed-era ones (results files, no .hydra)."""
    seen: set[Path] = set()
    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        found = [m.parent.parent for m in sorted(root.rglob(".hydra/config.yaml"))]
        found += [r.parent for r in sorted(root.rglob("evaluation_results*.json"))
                  if not (r.parent / ".hydra").exists()]
        for run in found:
            if run not in seen and not _STORE_FOLDERS & set(run.relative_to(root).parts):
                seen.add(run)
                yield run


def read_run(run_dir: Path, max_artifact_mb: float) -> list[RunRecord]:
    """The run record(s) of a directory; an OdinError saying why when it cannot be read."""
    run_dir = Path(run_dir)
    if (run_dir / ".hydra" / "config.yaml").is_file():
        return [_odin_record(run_dir, max_artifact_mb)]
    return _seed_era_records(run_dir)


def _odin_record(run_dir: Path, max_artifact_mb: float) -> RunRecord:
    from omegaconf import OmegaConf

    from odin.app import read_failure
    from odin.plots import write_plots

    config_path = run_dir / ".hydra" / "config.yaml"
    try:
        cfg = OmegaConf.to_container(OmegaConf.load(config_path), resolve=False)
    except Exception as err:
        raise OdinError(f"{config_path}: not a readable config ({err})") from err
    version, task = str(cfg.get("version", "dev")), str(cfg.get("task", "pipeline"))
    start, end = _times(run_dir)
    record = RunRecord(key=run_key(run_dir), name=f"{version}-{task}", start_ms=start, end_ms=end)
    sources = [n for n, s in ((cfg.get("data") or {}).get("sources") or {}).items() if s is not None]
    record.tags = {"odin.version": version, "odin.task": task, "odin.model": str((cfg.get("model") or {}).get("name")),
                   "odin.data_sources": ",".join(sources) or "none", "odin.run_dir": str(run_dir.resolve())}
    record.params = {k: redact(v) for k, v in flatten(cfg).items() if "${" not in str(v)}
    record.artifacts.append((config_path, "config"))
    if (run_dir / ".hydra" / "overrides.yaml").is_file():
        record.artifacts.append((run_dir / ".hydra" / "overrides.yaml", "config"))

    stats = run_dir / "data" / "stats.json"
    if stats.is_file():
        record.params.update(dataset_params(_read_json(stats)))
        record.artifacts.append((stats, "data"))
        if (run_dir / "data" / "README.md").is_file():
            record.artifacts.append((run_dir / "data" / "README.md", "data"))
    state = run_dir / "trainer_state.json"
    if state.is_file():
        record.history = _history(_read_json(state))
    results_path = run_dir / "evaluation_results.json"
    if results_path.is_file():
        results = _read_json(results_path)
        try:
            record.metrics = evaluation_metrics(results)
        except (KeyError, TypeError, ValueError) as err:
            raise OdinError(f"{results_path}: not an odin results file ({type(err).__name__}: {err})") from err
        sha = (results.get("provenance") or {}).get("examples_sha1")
        if sha is None and results.get("examples"):
            from odin.evaluation import examples_sha1

            sha = examples_sha1(results["examples"])
        record.tags.update({"odin.eval_split": str(results.get("split")), **({"odin.test_set": sha} if sha else {})})
        record.artifacts.append((results_path, None))
        plots = run_dir / "plots"
        record.artifacts += [(p, "plots") for p in (sorted(plots.glob("*.png")) if plots.is_dir() else
                                                     write_plots(results, plots))]
    final = run_dir / "final_model"
    if final.is_dir():
        size_mb = sum(p.stat().st_size for p in final.rglob("*") if p.is_file()) / 2**20
        if size_mb <= max_artifact_mb:
            record.artifacts.append((final, "final_model"))
        else:
            record.tags["odin.model_path"] = str(final.resolve())
    failure = read_failure(run_dir)
    if failure is not None:
        record.status = "KILLED" if failure.get("status") == "KILLED" else "FAILED"
        record.tags.update({"odin.error_type": str(failure.get("error_type")),
                            "odin.error": redact(str(failure.get("message")))[:5000]})
    return record


def _seed_era_records(run_dir: Path) -> list[RunRecord]:
    files = sorted(run_dir.glob("evaluation_results*.json"))
    match = _SEED_VERSION.search(run_dir.name)
    version = match.group(1) if match else "v1"
    start, end = _times(run_dir)
    history = _history(_read_json(run_dir / "trainer_state.json")) if (run_dir / "trainer_state.json").is_file() else []
    records = []
    for path in files:
        data = _read_json(path)
        if not isinstance(data, dict) or "entity_metrics" not in data or "relation_metrics" not in data:
            raise OdinError(f"{path}: neither an odin results file nor the seed-era layout (entity_metrics and "
                            "relation_metrics); nothing of this directory was logged")
        suffix = path.stem.replace("evaluation_results", "").strip("_") or "default"
        record = RunRecord(key=f"{run_key(run_dir)}#{path.name}", name=f"{version}-eval-{suffix}",
                           start_ms=start, end_ms=end, history=list(history))
        record.tags = {"odin.version": version, "odin.task": "eval", "odin.seed_era": "true",
                       "odin.test_set_label": suffix, "odin.run_dir": str(run_dir.resolve())}
        for task, prefix in (("entity_metrics", "entity"), ("relation_metrics", "relation")):
            micro, macro = data[task].get("micro") or {}, data[task].get("macro") or {}
            for name in ("f1", "precision", "recall"):
                if isinstance(micro.get(name), (int, float)):
                    record.metrics[f"{prefix}_{name}"] = float(micro[name])
            for name in ("tp", "fp", "fn"):
                if isinstance(micro.get(name), (int, float)):
                    record.metrics[f"{prefix}_{name}"] = float(micro[name])
            # The original project's "macro" averaged per example: named so, not confused with a per-type average.
            for name in ("f1", "precision", "recall"):
                if isinstance(macro.get(name), (int, float)):
                    record.metrics[f"{prefix}_{name}_example_avg"] = float(macro[name])
        if not record.metrics:
            raise OdinError(f"{path}: no micro/macro scores under entity_metrics/relation_metrics")
        record.artifacts.append((path, None))
        records.append(record)
    return records


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise OdinError(f"{path}: not readable JSON ({type(err).__name__}: {err})") from err


def _history(state: dict) -> list[tuple[str, float, int]]:
    """Training metrics by step from a trainer_state.json's log history."""
    out = []
    for entry in state.get("log_history", []):
        step = int(entry.get("step", 0))
        for key, value in entry.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append((key, float(value), step))
    return out


def _times(run_dir: Path) -> tuple[int, int]:
    """(start, end) in ms: the start from the run's folder names (<date>/<HH-MM-SS>_...) when they say it, else the
    oldest file; the end from the newest file."""
    mtimes = [p.stat().st_mtime for p in run_dir.rglob("*") if p.is_file()] or [run_dir.stat().st_mtime]
    start = min(mtimes)
    for folder, parent in ((run_dir, run_dir.parent), (run_dir.parent, run_dir.parent.parent)):
        clock = _RUN_NAME.match(folder.name)
        try:
            day = dt.date.fromisoformat(parent.name)
        except ValueError:
            continue
        if clock:
            start = dt.datetime(day.year, day.month, day.day, *map(int, clock.groups())).timestamp()
            break
    return int(start * 1000), int(max(max(mtimes), start) * 1000)


def log_record(client, experiment_id: str, record: RunRecord) -> str:
    """Create the MLflow run of a record with its original times; delete it again if logging fails midway."""
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment_id, start_time=record.start_ms, run_name=record.name,
                            tags={**record.tags, "odin.run_key": record.key, "odin.backfilled": "true"})
    run_id = run.info.run_id
    try:
        params = [Param(k, "null" if v is None else str(v)) for k, v in record.params.items()]
        metrics = [Metric(k, v, record.end_ms, 0) for k, v in record.metrics.items()]
        metrics += [Metric(k, v, record.start_ms, step) for k, v, step in record.history]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params and 1000 metrics per batch
            client.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i:i + 1000])
        for path, folder in record.artifacts:
            if path.is_dir():
                client.log_artifacts(run_id, str(path), folder)
            else:
                client.log_artifact(run_id, str(path), folder)
        client.set_terminated(run_id, record.status, end_time=record.end_ms)
    except Exception:
        client.delete_run(run_id)
        raise
    return run_id
