"""What both training backends share: the tokenized dataset, the trainer's arguments, the callbacks and the loop.

A backend only loads the base model and puts LoRA on it; everything here is the same for `hf` and `unsloth`, so
both train on the same tokens with the same recipe and write the same PEFT adapter.

The dataset is tokenized here rather than by TRL: the prompt is tokenized on its own, exactly as evaluation and
prediction tokenize it, and the answer plus one EOS token follows. Examples longer than `model.max_seq_length` are
dropped (counted in the log), because truncating them would cut the answer off and teach the model to stop early.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from odin.errors import OdinError
from odin.format import build_prompt
from odin.inference import encode_prompts
from odin.modeling.speed import check_compile, check_liger, compile_blocks, respects_boundaries_sparsely

log = logging.getLogger(__name__)

# Optimizers that run on bitsandbytes, which needs CUDA.
BNB_OPTIMIZERS = {
    "adamw_bnb_8bit", "adamw_8bit", "ademamix_8bit", "lion_8bit", "lion_32bit", "paged_adamw_32bit",
    "paged_adamw_8bit", "paged_ademamix_32bit", "paged_ademamix_8bit", "paged_lion_32bit", "paged_lion_8bit",
    "rmsprop_bnb", "rmsprop_bnb_8bit", "rmsprop_bnb_32bit", "galore_adamw_8bit", "galore_adamw_8bit_layerwise",
}


# --- dataset -------------------------------------------------------------------------------------------------------


def encode(records: list[dict], tokenizer) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, answer ids + EOS) per Alpaca record.

    The prompt is tokenized alone (with the tokenizer's BOS, if it adds one) by the function inference uses
    (`odin.inference.encode_prompts`), so both see the same ids; the answer without
    special tokens, then exactly one EOS, so the model learns to stop right after the format ends.
    """
    if not records:
        return []
    eos = tokenizer.eos_token_id
    if eos is None:
        raise OdinError("The model's tokenizer has no EOS token; the model could not learn where an answer ends")
    prompts = encode_prompts(tokenizer, [build_prompt(r["input"], r["instruction"]) for r in records])
    answers = tokenizer([r["output"] for r in records], add_special_tokens=False)["input_ids"]
    out = []
    for prompt_ids, answer_ids in zip(prompts, answers, strict=True):
        answer_ids = list(answer_ids)
        if not answer_ids or answer_ids[-1] != eos:
            answer_ids.append(eos)
        out.append((list(prompt_ids), answer_ids))
    return out


def build_dataset(records: list[dict], tokenizer, max_seq_length: int, split: str):
    """A pre-tokenized `datasets.Dataset` (input_ids, completion_mask) that SFTTrainer takes as is."""
    from datasets import Dataset

    input_ids, completion_mask, too_long = [], [], 0
    for prompt_ids, answer_ids in encode(records, tokenizer):
        if len(prompt_ids) + len(answer_ids) > max_seq_length:
            too_long += 1
            continue
        input_ids.append(prompt_ids + answer_ids)
        completion_mask.append([0] * len(prompt_ids) + [1] * len(answer_ids))
    if too_long:
        log.warning(
            "%s: dropped %d of %d examples longer than model.max_seq_length=%d tokens (prompt + answer); raise "
            "model.max_seq_length or lower data.max_tokens to keep them", split, too_long, len(records), max_seq_length,
        )
    if input_ids:
        lengths = [len(ids) for ids in input_ids]
        log.info("%s: %d examples, %d tokens (mean %.0f, max %d per example)", split, len(lengths), sum(lengths),
                 sum(lengths) / len(lengths), max(lengths))
    return Dataset.from_dict({"input_ids": input_ids, "completion_mask": completion_mask})


# --- trainer arguments ---------------------------------------------------------------------------------------------


def _has_bitsandbytes() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


def choose_optimizer(name: str, cuda: bool, quiet: bool = False) -> str:
    """The optimizer to train with: `name`, or fused AdamW where a bitsandbytes optimizer cannot run."""
    from transformers.training_args import OptimizerNames

    valid = {o.value for o in OptimizerNames}
    if name not in valid:
        raise OdinError(f"training.optimizer={name!r} is not an optimizer transformers knows; use one of: "
                        f"{', '.join(sorted(valid))}")
    if name in BNB_OPTIMIZERS and not (cuda and _has_bitsandbytes()):
        fallback = "adamw_torch_fused" if cuda else "adamw_torch"
        why = "bitsandbytes is not installed" if cuda else "there is no CUDA GPU"
        if not quiet:
            log.info("training.optimizer=%s needs bitsandbytes on CUDA and %s: using %s", name, why, fallback)
        return fallback
    return name


def scheduler_name(name: str) -> str:
    """`name` when transformers has that learning-rate schedule, else an OdinError listing the ones it has."""
    from transformers.trainer_utils import SchedulerType

    schedulers = {s.value for s in SchedulerType}
    if name not in schedulers:
        raise OdinError(f"training.lr_scheduler={name!r} is not one of: {', '.join(sorted(schedulers))}")
    return name


def checkpointing_argument() -> str:
    """The trainer argument that turns gradient checkpointing on: transformers 5 renamed it activation_checkpointing
    (the old name still works, with a FutureWarning every run); older 5.x releases know only the old one."""
    import dataclasses

    from transformers import TrainingArguments

    new = "activation_checkpointing"
    return new if new in {f.name for f in dataclasses.fields(TrainingArguments)} else "gradient_checkpointing"


def precision(training_cfg, cuda: bool) -> dict:
    """Mixed-precision flags: bf16 where the GPU has it, fp16 on older GPUs, fp32 on CPU."""
    import torch

    if not training_cfg.bf16:
        return {"bf16": False, "fp16": False}
    if not cuda:
        log.info("No CUDA GPU: training in float32 (training.bf16 applies on GPUs only)")
        return {"bf16": False, "fp16": False}
    if torch.cuda.is_bf16_supported():
        return {"bf16": True, "fp16": False}
    log.info("This GPU has no bfloat16: training with float16 mixed precision instead")
    return {"bf16": False, "fp16": True}


def sft_config(cfg, run_dir: Path, *, has_eval: bool, cuda: bool, backend: str):
    """TRL's SFTConfig from cfg.training. eval/save steps are placeholders until `set_eval_interval`."""
    from trl import SFTConfig

    t = cfg.training
    padding_free = bool(t.packing or t.padding_free)
    if t.packing:
        log.info("training.packing: examples are packed into rows of up to %d tokens without padding",
                 cfg.model.max_seq_length)
    elif padding_free:
        log.info("training.padding_free: each batch of %d examples is one sequence without padding",
                 t.per_device_batch_size)
    if padding_free and cuda and not respects_boundaries_sparsely(cfg.model.attn_implementation, backend):
        # TRL joins a batch into one sequence; without varlen (flash) or block-sparse (flex) attention the mask
        # that keeps examples apart is dense over the whole batch, so a step costs batch^2 (BENCHMARKS.md).
        log.warning("training.%s without flash or flex attention: each batch is attended as one sequence under a "
                    "dense mask, which costs more than it saves; set model.attn_implementation=flex_attention (or "
                    "flash_attention_2 with flash-attn installed), or training.packing=false training.padding_free="
                    "false training.group_by_length=true", "packing" if t.packing else "padding_free")
    if t.use_liger_kernel:
        check_liger(cuda, backend)
    load_best = bool(t.load_best_model and has_eval)
    # The early stopper reads the same metric as the best-checkpoint choice.
    metric = str(t.best_model_metric) if has_eval and (load_best or t.early_stopping_patience > 0) else None
    return SFTConfig(
        output_dir=str(run_dir),
        num_train_epochs=float(t.epochs),
        max_steps=int(t.max_steps) if t.max_steps and t.max_steps > 0 else -1,
        per_device_train_batch_size=t.per_device_batch_size,
        # No activations are kept for a backward pass during evaluation, so it takes twice the batch.
        per_device_eval_batch_size=2 * t.per_device_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        lr_scheduler_type=scheduler_name(str(t.lr_scheduler)),
        warmup_steps=t.warmup_steps,
        weight_decay=t.weight_decay,
        optim=choose_optimizer(t.optimizer, cuda),
        max_grad_norm=t.max_grad_norm,
        **precision(t, cuda),
        # Unsloth brings its own gradient checkpointing (set when it adds LoRA); the Trainer's would run twice.
        **{checkpointing_argument(): bool(t.gradient_checkpointing) and backend == "hf"},
        eval_strategy="steps" if has_eval else "no",
        save_strategy="steps",
        eval_steps=1,
        save_steps=1,
        load_best_model_at_end=load_best,
        metric_for_best_model=metric,
        greater_is_better=None if metric is None else metric != "eval_loss",
        save_total_limit=t.save_total_limit,
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        report_to="none",
        # The datasets are tokenized and cut to length here (build_dataset); TRL refuses a max_length with
        # padding-free batches that it does not pack, and has nothing left to truncate.
        max_length=None if t.padding_free and not t.packing else cfg.model.max_seq_length,
        packing=bool(t.packing),
        # Set either way: Unsloth turns padding-free on by itself when this is left unset, and without flash
        # attention that is one dense-masked sequence per batch (see above).
        padding_free=bool(t.padding_free),
        pad_to_multiple_of=t.pad_to_multiple_of,
        use_liger_kernel=bool(t.use_liger_kernel),
        completion_only_loss=bool(t.completion_only_loss),
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        # The NaN filter reads the loss back from the GPU every step; a stall the run does not need.
        logging_nan_inf_filter=False,
        # Batches are pre-tokenized lists: collating them is cheap, so no worker processes.
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
        prediction_loss_only=True,
        disable_tqdm=False,
        # On CPU accelerate runs several processes (torchrun, tests) over gloo only when told it is a CPU job.
        use_cpu=not cuda,
        # Every LoRA weight takes part in every step: DDP need not search the graph for unused ones.
        ddp_find_unused_parameters=False,
    )


def steps_per_epoch(num_rows: int, training_cfg, world_size: int = 1) -> int:
    """Optimizer steps in one epoch; each of `world_size` processes takes its own batch at every step (DDP)."""
    batches = math.ceil(num_rows / (training_cfg.per_device_batch_size * world_size))
    return max(1, math.ceil(batches / training_cfg.gradient_accumulation_steps))


def eval_interval(num_rows: int, training_cfg, world_size: int = 1) -> int:
    """Optimizer steps between evaluations (and checkpoints).

    `training.eval_every` is in epochs; with `training.max_steps` it is the same fraction of the whole run.
    """
    if training_cfg.max_steps and training_cfg.max_steps > 0:
        total = int(training_cfg.max_steps)
        return min(total, max(1, round(training_cfg.eval_every * total)))
    return max(1, round(training_cfg.eval_every * steps_per_epoch(num_rows, training_cfg, world_size)))


def set_eval_interval(trainer, training_cfg) -> int:
    """Fix eval/save steps once the trainer has prepared (and maybe packed) the training rows."""
    steps = eval_interval(len(trainer.train_dataset), training_cfg, trainer.args.world_size)
    trainer.args.eval_steps = steps
    trainer.args.save_steps = steps
    return steps


# --- callbacks -----------------------------------------------------------------------------------------------------


def step_logger():
    """A log line per logging step: loss, learning rate, tokens/s (and eval loss after each evaluation).

    It reads only what the Trainer already gathered for its logs, so it adds no GPU sync of its own. It comes first in
    the trainer's callbacks and adds `tokens_per_s` to the logs, so a tracker's callback after it records the rate.
    """
    from transformers import TrainerCallback

    class StepLogger(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self._time, self._tokens = time.perf_counter(), 0

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" in logs:
                now, tokens = time.perf_counter(), logs.get("num_tokens")
                # Unsloth's trainer does not count tokens: leave the rate out rather than print 0.
                rate = ""
                if tokens is not None:
                    per_s = (tokens - self._tokens) / max(now - self._time, 1e-9)
                    rate = f"  {per_s:,.0f} tok/s"
                    logs["tokens_per_s"] = round(per_s, 1)  # trackers later in the callback list log it by step
                self._time, self._tokens = now, tokens or 0
                log.info("step %d/%d  loss %.4f  lr %.2e%s  epoch %.2f", state.global_step, state.max_steps,
                         logs["loss"], logs.get("learning_rate", float("nan")), rate,
                         logs.get("epoch", state.epoch or 0.0))
            elif "eval_loss" in logs:
                log.info("step %d/%d  eval_loss %.4f", state.global_step, state.max_steps, logs["eval_loss"])

    return StepLogger()


def quiet_progress_bar():
    """The Trainer's tqdm bar without its printing of every log dict (StepLogger writes those lines)."""
    from transformers.trainer_callback import ProgressCallback

    class QuietProgress(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            pass

    return QuietProgress()


# --- the loop ------------------------------------------------------------------------------------------------------


def fused_loss_available(cuda: bool) -> bool:
    """TRL's fused LM head (log-probs in tiles, never the full logits) runs as Triton kernels on CUDA."""
    import importlib.util

    return cuda and importlib.util.find_spec("triton") is not None


# Config fields that change logits after the LM head; with any of them set, the model's own loss is used instead.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier",
                     "lm_head_multiplier")


def labeled_positions_loss(model, inputs, num_items_in_batch=None):
    """Causal-LM cross-entropy computed through the LM head only where a label is set, or None if unsupported.

    The same loss as the model's own, without the (batch, length, vocabulary) logits of prompt and padding
    positions: with completion-only loss that is most of the LM head's work and memory (49k-token vocabularies).
    """
    import torch
    import torch.nn.functional as F

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = causal_lm.config.get_text_config()
    if any(getattr(config, name, None) not in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS):
        return None
    backbone = getattr(causal_lm, causal_lm.base_model_prefix, None)
    head = causal_lm.get_output_embeddings()
    if backbone is None or head is None or getattr(config, "output_router_logits", False):
        return None
    labels = inputs["labels"]
    forward_inputs = {k: v for k, v in inputs.items() if k not in ("labels", "use_cache")}
    hidden = backbone(**forward_inputs, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    mask = targets != -100
    logits = head(hidden[:, :-1][mask].to(head.weight.dtype)).float()
    total = F.cross_entropy(logits, targets[mask], reduction="sum")
    denominator = mask.sum() if num_items_in_batch is None else num_items_in_batch
    return total / torch.as_tensor(denominator, device=total.device).clamp(min=1)


def trainer_class(fused: bool):
    """TRL's SFTTrainer; where its fused (Triton) loss cannot run, the loss comes from `labeled_positions_loss`."""
    from transformers import Trainer
    from trl import SFTTrainer

    class OdinSFTTrainer(SFTTrainer):
        _tokens = 0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if fused:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if model.training:
                mask = inputs.get("attention_mask")
                # Kept as a tensor: read back only when a log line is written, not every step.
                self._tokens = self._tokens + (mask.sum() if mask is not None else inputs["input_ids"].numel())
            # Under DDP the forward must go through the wrapper (it syncs the gradients): the model's own loss then.
            wrapped = self.accelerator.unwrap_model(model) is not model
            loss = None if return_outputs or wrapped else labeled_positions_loss(model, inputs, num_items_in_batch)
            if loss is None:
                inputs["use_cache"] = False
                return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            return loss

        def log(self, logs, start_time=None):
            if not fused and self.model.training:
                self._metrics["train"]["num_tokens"] = [int(self._tokens)]
            super().log(logs, start_time)

        def create_model_card(self, *args, **kwargs):
            # TRL would write a generic README.md into the run directory at every checkpoint; odin's cards are its own.
            pass

    return OdinSFTTrainer


class _SameSecondCheckpoints(logging.Filter):
    """transformers orders checkpoints by mtime when rotating them and, when the oldest and newest were written less
    than a second apart, warns that "mtime may not be reliable on this filesystem" before ordering them by step.
    A short run (a smoke run, a tiny model) writes its checkpoints within a second on any filesystem, so the
    warning says nothing true; the ordering it falls back to is the right one. Only that message is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("mtime may not be reliable on this filesystem")


def build_trainer(cfg, model, tokenizer, train_ds, eval_ds, run_dir: Path, *, backend: str, callbacks=()):
    from transformers.trainer_callback import ProgressCallback
    from transformers.utils import logging as hf_logging

    from odin.modeling.load import default_device

    checkpoints_log = hf_logging.get_logger("transformers.trainer_utils")
    if not any(isinstance(f, _SameSecondCheckpoints) for f in checkpoints_log.filters):
        checkpoints_log.addFilter(_SameSecondCheckpoints())
    cuda = default_device().startswith("cuda")
    if cfg.training.compile:
        check_compile(backend)
        log.info("training.compile: %d transformer blocks compiled (the first steps include the compilation)",
                 compile_blocks(model))
    args = sft_config(cfg, run_dir, has_eval=eval_ds is not None, cuda=cuda, backend=backend)
    if backend == "unsloth":
        from trl import SFTTrainer as cls  # as Unsloth patched it, with its own fused loss
    else:
        cls = trainer_class(fused=fused_loss_available(cuda))
    trainer = cls(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                  processing_class=tokenizer, callbacks=[step_logger(), *callbacks])
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(quiet_progress_bar())
    steps = set_eval_interval(trainer, cfg.training)
    log.info("%d training rows, %s; %s every %d steps", len(trainer.train_dataset),
             f"{cfg.training.max_steps} steps" if cfg.training.max_steps > 0 else f"{cfg.training.epochs:g} epochs",
             "evaluation and checkpoint" if eval_ds is not None else "checkpoint", steps)
    return trainer


def fit(trainer, cfg, run_dir: Path, resume_from: Path | None = None) -> None:
    """trainer.train(), turning out-of-memory into advice and noting how to resume after an interruption."""
    import torch

    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except torch.cuda.OutOfMemoryError as err:
        raise OdinError(oom_advice(cfg, run_dir)) from err
    except RuntimeError as err:
        if "out of memory" in str(err).lower():
            raise OdinError(oom_advice(cfg, run_dir)) from err
        raise
    except KeyboardInterrupt:
        log.warning("Training interrupted at step %d. Checkpoints in %s are kept; continue with: "
                    "training.resume=true training.resume_from=%s", trainer.state.global_step, run_dir, run_dir)
        raise


def oom_advice(cfg, run_dir: Path) -> str:
    t, m = cfg.training, cfg.model
    bs, ga = t.per_device_batch_size, t.gradient_accumulation_steps
    tips = []
    if bs > 1:
        tips.append(f"training.per_device_batch_size={max(1, bs // 2)} training.gradient_accumulation_steps={ga * 2} "
                    "(same effective batch, less memory)")
    if not m.load_in_4bit:
        tips.append("model.load_in_4bit=true (4-bit base weights)")
    if not t.gradient_checkpointing:
        tips.append("training.gradient_checkpointing=true")
    tips.append(f"a lower model.max_seq_length (now {m.max_seq_length}; longer examples are dropped)")
    return (f"CUDA ran out of memory while training (batch of {bs} x up to {m.max_seq_length} tokens). Try: "
            + "; ".join(tips) + f". Checkpoints saved so far are kept in {run_dir}; continue from the last one with "
            f"training.resume=true training.resume_from={run_dir}")
