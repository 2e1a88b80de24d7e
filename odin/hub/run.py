"""A training run directory, read for publishing: its config, the model folder to push, its scores and its data.

Everything a model card says comes from here, so a card describes the run that made the model and nothing else:
`.hydra/config.yaml` and `.hydra/overrides.yaml` (what was trained and how), `evaluation_results.json` (the scores),
the prepared data's `stats.json` (what it was trained on). A run with `failure.json` has no valid results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from odin.errors import OdinError
from odin.schema import CONF_DIR

RESULTS_FILE = "evaluation_results.json"
FAILURE_FILE = "failure.json"
ADAPTER_DIR = "final_model"
MERGED_DIR = "merged_model"
EXPERIMENT_DIR = CONF_DIR / "experiment"


@dataclass(frozen=True)
class TrainedRun:
    run_dir: Path
    config: DictConfig  # the run's composed config (.hydra/config.yaml)
    overrides: list[str]  # its command line (.hydra/overrides.yaml)
    model_dir: Path  # the folder to publish: final_model/, checkpoint-N/ or merged_model/
    merged: bool  # whole weights go up: merged_model/, or any folder of a full fine-tune
    results: dict  # evaluation_results.json
    stats: dict  # the training data's stats.json
    # The composed config of the run that wrote the results (this run, or the eval run of publish.results_file), which
    # says how the scored answers were decoded and read; None when none lies beside the results file.
    eval_config: DictConfig | None = None
    results_path: Path | None = None  # where `results` was read

    @property
    def version(self) -> str:
        return str(self.config.get("version", "dev"))

    @property
    def full_finetune(self) -> bool:
        return is_full_finetune(self.config)

    @property
    def generation(self) -> DictConfig:
        """The generation settings the scores were produced with (the training run's when the evaluation's are not
        recorded)."""
        return (self.eval_config if self.eval_config is not None else self.config).generation


def is_full_finetune(config: DictConfig) -> bool:
    """Whether a run trained the whole model (lora.enabled=false): its final_model/ is whole weights, not an adapter."""
    return OmegaConf.select(config, "lora.enabled", default=True) is False


def read_run(run_dir: Path, *, checkpoint: str | None = None, merged: bool = False,
             results_file: str | None = None) -> TrainedRun:
    """The run as publishing needs it; an OdinError naming the missing or inconsistent piece otherwise."""
    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise OdinError(f"publish.run_dir={run_dir} is not a directory: point it at a training run, e.g. "
                        "outputs/<date>/<time>_pipeline_<pid>@<host>")
    failure = run_dir / FAILURE_FILE
    if failure.is_file():
        raise OdinError(f"{failure} says this run failed ({_failure_summary(failure)}): it has no valid results to "
                        "publish. Publish a run that finished")
    config_path = run_dir / ".hydra" / "config.yaml"
    if not config_path.is_file():
        raise OdinError(f"{config_path} not found: publish.run_dir must be a run directory written by `python -m odin` "
                        "(its .hydra/config.yaml says what was trained)")
    config = OmegaConf.load(config_path)
    overrides_path = run_dir / ".hydra" / "overrides.yaml"
    overrides = [str(o) for o in OmegaConf.load(overrides_path)] if overrides_path.is_file() else []
    model_dir = model_folder(run_dir, checkpoint, merged, full=is_full_finetune(config))
    results_path = Path(results_file).expanduser() if results_file else run_dir / RESULTS_FILE
    results = read_results(results_path, model_dir)
    eval_config_path = results_path.parent / ".hydra" / "config.yaml"
    eval_config = OmegaConf.load(eval_config_path) if eval_config_path.is_file() else None
    return TrainedRun(run_dir, config, overrides, model_dir, merged, results, read_stats(run_dir, config), eval_config,
                      results_path)


def model_folder(run_dir: Path, checkpoint: str | None, merged: bool, *, full: bool = False) -> Path:
    if full and not merged:
        # A full fine-tune is merged by nature: every folder it wrote is the whole model, the base's weights included.
        raise OdinError(f"{run_dir} is a full fine-tune (lora.enabled=false): its {ADAPTER_DIR}/ holds the whole "
                        "model, base weights included, not a LoRA adapter. Publish those weights on purpose with "
                        "publish.merged=true (the base model's licence must allow redistributing them)")
    if merged and checkpoint and not full:
        raise OdinError(f"publish.merged=true pushes {MERGED_DIR}/ and publish.checkpoint={checkpoint} an adapter "
                        "checkpoint: set one of them")
    if merged and not full:
        folder = run_dir / MERGED_DIR
        if not folder.is_dir():
            raise OdinError(f"publish.merged=true but {folder} does not exist: train with training.merge=true to write "
                            "a merged model, or drop publish.merged to push the adapter")
        return folder
    if checkpoint:
        folder = run_dir / checkpoint
        if not checkpoint.startswith("checkpoint-") or not folder.is_dir():
            have = sorted(p.name for p in run_dir.glob("checkpoint-*")) or ["none"]
            raise OdinError(f"publish.checkpoint={checkpoint}: no such checkpoint in {run_dir} (it has: "
                            f"{', '.join(have)}); give one of those, or unset it to publish {ADAPTER_DIR}/")
        return folder
    folder = run_dir / ADAPTER_DIR
    if not folder.is_dir():
        raise OdinError(f"{folder} does not exist: the run has no trained adapter (did training finish?). Publish a "
                        "run that trained, or name one of its checkpoints with publish.checkpoint=checkpoint-N")
    return folder


def read_results(path: Path, model_dir: Path) -> dict:
    """evaluation_results.json, checked to score the model being published (not the base model, not another one)."""
    if not path.is_file():
        raise OdinError(f"{path} not found: the card reports the model's scores, so evaluate it first "
                        f"(python -m odin task=eval eval.model_dir={model_dir}) and pass that run's results with "
                        "publish.results_file=<eval run>/evaluation_results.json")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        scores = results["scores"]
        complete = all(avg in scores[kind] for kind in ("entities", "relations") for avg in ("micro", "macro"))
    except (json.JSONDecodeError, KeyError, TypeError):
        complete = False
    if not complete:
        raise OdinError(f"{path} is not an odin evaluation_results.json (no micro and macro scores for entities and "
                        "relations); evaluate the model again")
    evaluated = results.get("model_dir")
    if evaluated is None:
        raise OdinError(f"{path} scores the base model with no adapter (eval.base_model=true), not {model_dir}; "
                        "evaluate the trained model and publish with those results")
    if _weights_of(Path(evaluated).name) != _weights_of(model_dir.name):
        raise OdinError(f"{path} scores {evaluated}, not {model_dir}: the card would report another model's scores. "
                        f"Evaluate it (python -m odin task=eval eval.model_dir={model_dir}) and pass "
                        "publish.results_file=<that run>/evaluation_results.json")
    return results


def _weights_of(folder_name: str) -> str:
    # The merged model is the final adapter folded into the base: the same weights, so the same scores.
    return ADAPTER_DIR if folder_name == MERGED_DIR else folder_name


def read_stats(run_dir: Path, config: DictConfig) -> dict:
    """The training data's statistics: <run>/data/stats.json, else the prepared dir the run trained from."""
    candidates = [run_dir / "data" / "stats.json"]
    prepared = OmegaConf.select(config, "data.prepared_dir")
    if prepared:
        candidates.append(Path(str(prepared)).expanduser() / "stats.json")
    for path in candidates:
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise OdinError(f"No stats.json for the training data (looked in {', '.join(map(str, candidates))}): the card "
                    "reports what the model was trained on. Publish the run directory that prepared or named its data")


def experiment_name(overrides: list[str]) -> str | None:
    """The experiment file a run was composed with (`+experiment=v16` -> v16), None when there was none."""
    for item in overrides:
        key, _, value = item.lstrip("+~").partition("=")
        if key == "experiment" and value:
            return value
    return None


def experiment_header(name: str | None) -> list[str]:
    """The comment block at the top of conf/experiment/<name>.yaml: what the version changed and its result."""
    if not name:
        return []
    path = EXPERIMENT_DIR / f"{name}.yaml"
    if not path.is_file():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if not text.startswith("@package"):
            lines.append(line[2:] if line.startswith("# ") else line[1:])
    return lines


def _failure_summary(path: Path) -> str:
    try:
        failure = json.loads(path.read_text(encoding="utf-8"))
        return f"{failure.get('status')}: {failure.get('error_type')}: {failure.get('message')}"
    except (OSError, json.JSONDecodeError):
        return "unreadable"
