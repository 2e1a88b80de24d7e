"""Experiment tracking: one small interface, a no-op (`tracking=none`) and MLflow (`tracking=mlflow`).

The run context (odin/app.py) opens the tracker around a task and closes it in `finally`; tasks report through the
methods below (the dataset, the trained adapter, the evaluation), and training metrics arrive through the trainer's
callback list (`trainer_callbacks`). Every method is safe to call with tracking off: the no-op tracker drops it all.

Tracking never costs results: the run directory is written first, and a tracking call that fails after the run has
started is logged as a warning, not raised (`task=backfill` can bring the run in later).
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any, Mapping

from odin.secrets import redact  # noqa: F401  (the trackers' second line of defence; the config check refuses)


class Tracker:
    """The interface, and the tracker of `tracking=none`: every call is accepted and dropped."""

    enabled = False
    run_id: str | None = None

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        return False

    # -- primitives: what an implementation provides --------------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        pass

    def trainer_callbacks(self) -> list:
        """transformers TrainerCallbacks that log training metrics by step (none when tracking is off)."""
        return []

    # -- what tasks report, in terms of the primitives ------------------------------------------------------------
    def log_dataset(self, data_dir: Path) -> None:
        """The prepared data's statistics as params, its card and stats as artifacts."""
        if not self.enabled:
            return
        stats_path = Path(data_dir) / "stats.json"
        if stats_path.is_file():
            self.log_params(dataset_params(json.loads(stats_path.read_text(encoding="utf-8"))))
            self.log_artifact(stats_path, "data")
        if (Path(data_dir) / "README.md").is_file():
            self.log_artifact(Path(data_dir) / "README.md", "data")

    def log_model(self, model_dir: Path, max_mb: float) -> None:
        """The trained adapter as an artifact, or (when larger than `max_mb`) a link to where it lies."""
        if not self.enabled:
            return
        size_mb = sum(p.stat().st_size for p in Path(model_dir).rglob("*") if p.is_file()) / 2**20
        if size_mb <= max_mb:
            self.log_artifact(Path(model_dir), Path(model_dir).name)
        else:
            self.set_tags({"odin.model_path": str(Path(model_dir).resolve()), "odin.model_mb": f"{size_mb:.0f}"})

    def log_evaluation(self, results: Mapping[str, Any], results_path: Path, plots: list[Path]) -> None:
        """Evaluation metrics under the names people chart, the results file and the plots."""
        if not self.enabled:
            return
        self.log_metrics(evaluation_metrics(results))
        self.set_tags({"odin.eval_split": str(results.get("split")),
                       **({"odin.test_set": results["provenance"]["examples_sha1"]}
                          if "examples_sha1" in results.get("provenance", {}) else {})})
        # Another split's files beside the test split's (a pipeline optimizing a val metric scores both).
        folder = None if str(results.get("split", "test")) == "test" else str(results["split"])
        self.log_artifact(Path(results_path), folder)
        for plot in plots:
            self.log_artifact(plot, "plots" if folder is None else f"{folder}/plots")


def open_tracker(cfg, run_dir: Path, *, backend: str | None, enabled: bool = True) -> Tracker:
    """The tracker `cfg.tracking` asks for (not started yet: use it as a context manager)."""
    if not enabled or str(cfg.tracking.backend) == "none":
        return Tracker()
    from odin.tracking.mlflow_tracker import MlflowTracker

    return MlflowTracker(cfg, Path(run_dir), backend=backend)


# --- pure helpers ---------------------------------------------------------------------------------------------------


def evaluation_metrics(results: Mapping[str, Any]) -> dict[str, float]:
    """Flat metric names from evaluation_results.json: the headline, per-type F1 (`entity_f1.Drug`), TP/FP/FN and
    examples/s. Splits other than test are prefixed (`val_entity_f1`), so a chart never mixes them up."""
    metrics: dict[str, float] = {k: float(v) for k, v in results["metrics"].items() if isinstance(v, (int, float))}
    scores = results["scores"]
    for task, prefix in (("entities", "entity"), ("relations", "relation")):
        for kind, value in scores[task]["counts"].items():
            metrics[f"{prefix}_{kind}"] = float(value)
        for type_name, per_type in scores[task]["per_type"].items():
            metrics[f"{prefix}_f1.{type_name}"] = float(per_type["f1"])
    rate = (results.get("timing") or {}).get("examples_per_s")
    if rate is not None:
        metrics["examples_per_s"] = float(rate)
    split = str(results.get("split", "test"))
    metrics = {k: v for k, v in metrics.items() if v == v}  # NaN (e.g. no grounding inputs) is not a metric
    return metrics if split == "test" else {f"{split}_{k}": v for k, v in metrics.items()}


def dataset_params(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The prepared data's size per split (examples, documents, input tokens) as params."""
    params: dict[str, Any] = {}
    for split, s in stats.get("splits", {}).items():
        params[f"dataset.{split}.examples"] = s.get("examples")
        params[f"dataset.{split}.documents"] = s.get("documents")
        if "total" in s.get("input_tokens", {}):
            params[f"dataset.{split}.input_tokens"] = s["input_tokens"]["total"]
    return params


def flatten(container: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay whole (as JSON), so a param reads as it was written."""
    if isinstance(container, Mapping):
        out: dict[str, Any] = {}
        for key, value in container.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    value = json.dumps(container) if isinstance(container, (list, tuple)) else container
    return {prefix[:-1]: value}


def run_key(run_dir: Path) -> str:
    """A run directory's identity across machines and moves: its path from the `outputs`/`multirun` folder that holds
    it (e.g. `outputs/2026-11-29/18-27-07_pipeline_v16_4121@gpu01`); the absolute path when it is elsewhere. Live
    runs and backfilled ones carry it as the tag `odin.run_key`, which makes backfill idempotent."""
    parts = Path(run_dir).resolve().parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("outputs", "multirun"):
            return "/".join(parts[i:])
    return str(Path(run_dir).resolve())


def git_state(repo: Path) -> tuple[str, bool | None]:
    """(commit, dirty) of the git checkout at `repo`; ("unknown", None) outside one."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                                capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", None
    return commit, bool(status.strip())


def host() -> str:
    return socket.gethostname()
