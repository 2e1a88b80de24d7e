"""task=train: fine-tune LoRA adapters (or, with lora.enabled=false, the whole model) on the prepared train split,
checkpointing and evaluating on val.

Reads like the steps it takes: read the splits, tokenize, load the model with LoRA on the run's backend, train (or
resume; keeping the best checkpoint by training.best_model_metric, stopping early when asked), save `final_model/`
and `trainer_state.json` in the run directory, and merge if asked. The model is saved locally before anything is
sent to a tracker.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from odin.data.prepared import read_split
from odin.errors import OdinError

log = logging.getLogger(__name__)


def check(cfg: DictConfig) -> None:
    """Everything training will use, checked before any work: the data, the model, the trainer's settings."""
    from odin.modeling.backends import check_full_finetuning
    from odin.modeling.load import check_available
    from odin.modeling.selection import wants_val_f1
    from odin.tasks.prepare import check as check_data

    check_data(cfg)
    check_available(cfg.model, cfg.paths.cache_dir)
    t = cfg.training
    check_full_finetuning(cfg)
    if t.val_f1_samples is not None and not wants_val_f1(t):
        raise OdinError(f"training.val_f1_samples={t.val_f1_samples} sizes the val sample scored at each evaluation, "
                        "but nothing scores it: set training.val_f1=true or training.best_model_metric="
                        "eval_relation_f1 (or eval_entity_f1), or drop val_f1_samples")
    if t.init_adapter:
        from odin.modeling.backends import check_adapter_dir

        check_adapter_dir(t.init_adapter)
    if t.resume and not t.resume_from:
        raise OdinError("training.resume=true continues an interrupted run: set training.resume_from=<its run "
                        "directory> (each run writes to a new directory)")


def check_libraries(cfg: DictConfig) -> None:
    """The trainer settings only torch and transformers can judge (optimizer and scheduler names, the checkpoint to
    resume, Liger's and compilation's needs). The run context calls this after resolving the backend (Unsloth must be imported before
    transformers), still before any work; `check` stays free of both, so other mistakes are reported at once."""
    from odin.modeling.sft import choose_optimizer, scheduler_name

    t = cfg.training
    choose_optimizer(str(t.optimizer), cuda=False, quiet=True)
    scheduler_name(str(t.lr_scheduler))
    if t.resume:
        resume_checkpoint(t, Path(cfg.paths.output_dir))
    if t.use_liger_kernel or t.compile:
        from odin.modeling.backends import resolve_backend
        from odin.modeling.load import default_device
        from odin.modeling.speed import check_compile, check_liger

        backend = resolve_backend(cfg.model, not cfg.lora.enabled)
        if t.use_liger_kernel:
            check_liger(default_device().startswith("cuda"), backend)
        if t.compile:
            check_compile(backend)


def run(ctx) -> dict[str, float]:
    from odin.data.prepare import ensure_prepared

    data_dir = ensure_prepared(ctx.cfg, ctx.run_dir)
    ctx.tracker.log_dataset(data_dir)
    train(ctx.cfg, data_dir, ctx.run_dir, backend=ctx.backend, tracker=ctx.tracker)
    return training_metrics(ctx.run_dir)


def train(cfg: DictConfig, data_dir: Path, run_dir: Path, *, backend: str | None = None, tracker=None,
          callbacks=()) -> Path:
    """Train on `data_dir`'s train split (val for eval loss); returns `run_dir/final_model`.

    `backend` is the run's (resolved once by the run context); `tracker` receives training metrics by step and
    then the adapter; `callbacks` are extra transformers TrainerCallbacks (tests).
    """
    from odin.distributed import barrier, is_main_process
    from odin.modeling import sft
    from odin.modeling.backends import load_for_training, resolve_backend
    from odin.modeling.load import load_tokenizer
    from odin.tracking import Tracker

    tracker = tracker or Tracker()
    backend = backend or resolve_backend(cfg.model, not cfg.lora.enabled)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
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
    _check_selection_has_val(cfg.training, eval_ds is not None, data_dir)

    from odin.modeling.selection import selection_callbacks

    model = load_for_training(cfg, backend, tokenizer)
    selection = selection_callbacks(cfg, val_records, backend) if eval_ds is not None else []
    trainer = sft.build_trainer(cfg, model, tokenizer, train_ds, eval_ds, run_dir, backend=backend,
                                callbacks=[*selection, *tracker.trainer_callbacks(), *callbacks])
    for callback in selection:
        if hasattr(callback, "attach"):
            callback.attach(trainer)
    sft.fit(trainer, cfg, run_dir, resume_from)

    final = run_dir / "final_model"
    if is_main_process():  # in a distributed job every rank holds the same weights; rank 0 writes them
        # With load_best_model the trainer now holds the checkpoint with the best training.best_model_metric.
        trainer.model.save_pretrained(final)
        tokenizer.save_pretrained(final)
        trainer.save_state()  # trainer_state.json in the run dir: loss curve, best checkpoint, steps
        log.info("%s saved to %s", "Adapter" if cfg.lora.enabled else "Fully fine-tuned model", final)
        tracker.log_model(final, float(cfg.tracking.max_artifact_mb))
    barrier()  # the other ranks go on to evaluate the model rank 0 has just written
    if cfg.training.merge and is_main_process():
        from odin.modeling.load import free_gpu
        from odin.modeling.merge import merge_adapter

        del trainer, model
        free_gpu()
        merge_adapter(cfg, final, run_dir / "merged_model", tokenizer)
    return final


def _check_selection_has_val(training_cfg, has_eval: bool, data_dir: Path) -> None:
    """Selection on val F1 and early stopping need evaluations; a run asked for them must not quietly train without."""
    t = training_cfg
    asked = []
    if t.early_stopping_patience > 0:
        asked.append(f"training.early_stopping_patience={t.early_stopping_patience}")
    if str(t.best_model_metric) != "eval_loss":
        asked.append(f"training.best_model_metric={t.best_model_metric}")
    if t.val_f1:
        asked.append("training.val_f1=true")
    if asked and not has_eval:
        raise OdinError(f"{', '.join(asked)}: evaluations on the val split are needed, and {data_dir} has no val "
                        "example that fits model.max_seq_length; prepare data with a val split (data.split.val > 0) "
                        "or turn these settings off")


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
    """train_loss, the best eval_loss and (when val answers were scored) the best val F1s from the run's
    trainer_state.json (for task=train's return value)."""
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
        for name in ("eval_entity_f1", "eval_relation_f1"):
            if name in entry:
                metrics[name] = max(float(entry[name]), metrics.get(name, float("-inf")))
    return metrics
