"""task=train: fine-tune LoRA adapters on the prepared train split, checkpointing and evaluating on val.

Reads like the steps it takes: pick the backend, read the splits, tokenize, load the model with LoRA, train (or
resume), save `final_model/` and `trainer_state.json` in the run directory, and merge if asked.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from odin.data.prepared import read_split
from odin.errors import OdinError

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, float]:
    from odin.modeling.backends import resolve_backend
    from odin.data.prepare import ensure_prepared

    resolve_backend(cfg.model)  # Unsloth, when chosen, must be imported before preparation loads transformers
    run_dir = Path(cfg.paths.output_dir)
    train(cfg, ensure_prepared(cfg, run_dir), run_dir)
    return training_metrics(run_dir)


def train(cfg: DictConfig, data_dir: Path, run_dir: Path, *, callbacks=()) -> Path:
    """Train on `data_dir`'s train split (val for eval loss); returns `run_dir/final_model`.

    `callbacks` are extra transformers TrainerCallbacks (tracking, tests).
    """
    from odin.modeling import sft
    from odin.modeling.backends import load_for_training, resolve_backend
    from odin.modeling.load import load_tokenizer

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with log_to_file(run_dir / "train.log"):
        backend = resolve_backend(cfg.model)
        train_records = read_split(data_dir, "train")
        val_records = _read_val(data_dir)
        resume_from = resume_checkpoint(cfg.training, run_dir)
        log.info("Training %s with the %s backend on %d examples (%d val) from %s", cfg.model.name, backend,
                 len(train_records), len(val_records), data_dir)

        tokenizer = load_tokenizer(cfg.model, cfg.paths.cache_dir, padding_side="right")
        max_len = int(cfg.model.max_seq_length)
        train_ds = sft.build_dataset(train_records, tokenizer, max_len, "train")
        if len(train_ds) == 0:
            raise OdinError(_empty_message(data_dir, train_records, max_len))
        eval_ds = sft.build_dataset(val_records, tokenizer, max_len, "val") if val_records else None
        if eval_ds is not None and len(eval_ds) == 0:
            log.warning("No val example fits in model.max_seq_length=%d: training without evaluation", max_len)
            eval_ds = None

        model = load_for_training(cfg, backend, tokenizer)
        trainer = sft.build_trainer(cfg, model, tokenizer, train_ds, eval_ds, run_dir, backend=backend,
                                    callbacks=callbacks)
        sft.fit(trainer, cfg, run_dir, resume_from)

        final = run_dir / "final_model"
        # With load_best_model the trainer now holds the checkpoint with the lowest eval loss.
        trainer.model.save_pretrained(final)
        tokenizer.save_pretrained(final)
        trainer.save_state()  # trainer_state.json in the run dir: loss curve, best checkpoint, steps
        log.info("Adapter saved to %s", final)
        if cfg.training.merge:
            from odin.modeling.load import free_gpu
            from odin.modeling.merge import merge_adapter

            del trainer, model
            free_gpu()
            merge_adapter(cfg, final, run_dir / "merged_model", tokenizer)
    return final


def _read_val(data_dir: Path) -> list[dict]:
    if not (Path(data_dir) / "val.jsonl").exists():
        log.warning("No val split in %s: training without evaluation loss or best-model selection", data_dir)
        return []
    return read_split(data_dir, "val")


def _empty_message(data_dir: Path, records: list[dict], max_len: int) -> str:
    path = Path(data_dir) / "train.jsonl"
    if not records:
        return f"The training split {path} has no examples; check the data config (data=...) and prepare again"
    return (f"All {len(records)} training examples in {path} are longer than model.max_seq_length={max_len} tokens "
            "(prompt + answer); raise model.max_seq_length or lower data.max_tokens")


def resume_checkpoint(training_cfg, run_dir: Path) -> Path | None:
    """The checkpoint to continue from when `training.resume` is set (newest in resume_from, else this run dir)."""
    from transformers.trainer_utils import get_last_checkpoint

    if not training_cfg.resume:
        if training_cfg.resume_from:
            log.warning("training.resume_from is set but training.resume=false: training starts from step 0")
        elif any(run_dir.glob("checkpoint-*")):
            log.warning("%s already has checkpoints; they may be replaced (training.resume=true continues them)",
                        run_dir)
        return None
    source = Path(training_cfg.resume_from).expanduser() if training_cfg.resume_from else run_dir
    if (source / "trainer_state.json").exists() and source.name.startswith("checkpoint-"):
        return source
    last = get_last_checkpoint(str(source)) if source.is_dir() else None
    if last is None:
        where = "training.resume_from" if training_cfg.resume_from else "this run directory"
        raise OdinError(f"training.resume=true but {where} ({source}) has no checkpoint-* to continue from; set "
                        "training.resume_from to the interrupted run's directory")
    log.info("Resuming from %s", last)
    return Path(last)


def training_metrics(run_dir: Path) -> dict[str, float]:
    """train_loss / best eval_loss from the run's trainer_state.json (for task=train's return value)."""
    path = run_dir / "trainer_state.json"
    if not path.exists():
        return {}
    state = json.loads(path.read_text())
    metrics: dict[str, float] = {}
    for entry in state.get("log_history", []):
        if "train_loss" in entry:
            metrics["train_loss"] = float(entry["train_loss"])
        if "eval_loss" in entry:
            metrics["eval_loss"] = min(float(entry["eval_loss"]), metrics.get("eval_loss", float("inf")))
    return metrics


@contextlib.contextmanager
def log_to_file(path: Path):
    """Copy odin's log lines into `path` for the duration (Hydra already does this when task=train)."""
    root, odin_log = logging.getLogger(), logging.getLogger("odin")
    target = str(path.resolve())
    present = any(isinstance(h, logging.FileHandler) and h.baseFilename == target for h in root.handlers)
    handler = None
    if not present:
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
        handler.setLevel(logging.INFO)
        root.addHandler(handler)
    old_level = odin_log.level
    if odin_log.getEffectiveLevel() > logging.INFO:
        odin_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        odin_log.setLevel(old_level)
        if handler is not None:
            root.removeHandler(handler)
            handler.close()
