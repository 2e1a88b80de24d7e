"""Model selection and early stopping on validation F1, not only loss (`training.best_model_metric`).

Eval loss measures how well the model predicts the gold answer token by token; what odin reports is F1 of the answers
it generates, and the two part ways late in training (a model can grow more confident in the answers it gets right
while it keeps missing the second and third effect of a drug). With `training.val_f1=true` or an F1
`best_model_metric`, every evaluation also generates answers for the val split (or a fixed sample of it) with odin's
own batched greedy generation and scores them with odin's metrics, exactly as `task=eval` does. The scores join the
evaluation's metrics, so the trainer's own machinery keeps the best checkpoint (`load_best_model_at_end` with
`metric_for_best_model`) and transformers' EarlyStoppingCallback stops after `early_stopping_patience` evaluations
without improvement; they are logged through the trainer, so a tracker's callback charts them by step.

Nothing here runs unless it is switched on: the default selects on eval loss as before.
"""

from __future__ import annotations

import logging
import random
import time

log = logging.getLogger(__name__)

F1_METRICS = {"eval_entity_f1": "entity_f1", "eval_relation_f1": "relation_f1"}
# What an evaluation adds to the trainer's metrics (micro averages, the headline of evaluation_results.json).
LOGGED = ("entity_f1", "entity_precision", "entity_recall", "relation_f1", "relation_precision", "relation_recall")


def wants_val_f1(training_cfg) -> bool:
    return bool(training_cfg.val_f1) or str(training_cfg.best_model_metric) in F1_METRICS


def val_sample(records: list[dict], num_samples: int | None, seed: int) -> list[dict]:
    """The val records scored at each evaluation: all, or a fixed seeded sample of `num_samples` (in file order),
    the same at every evaluation so the scores are comparable step to step."""
    if num_samples is None or num_samples >= len(records):
        return list(records)
    picked = sorted(random.Random(f"{seed}:val_f1").sample(range(len(records)), int(num_samples)))
    return [records[i] for i in picked]


def selection_callbacks(cfg, val_records: list[dict], backend: str) -> list:
    """The callbacks `training.*` asks for, in the order they must run: the val-F1 scorer first (the early stopper
    reads its metric). Each needs `attach(trainer)` once the trainer exists."""
    t = cfg.training
    callbacks = []
    if wants_val_f1(t):
        records = val_sample(val_records, t.val_f1_samples, int(cfg.data.seed))
        callbacks.append(val_f1_callback(records, cfg.generation, backend))
        log.info("At each evaluation: generating answers for %d val examples and scoring them (eval_entity_f1, "
                 "eval_relation_f1)%s", len(records), f"; the best checkpoint is chosen by {t.best_model_metric}"
                 if t.load_best_model else "")
    if t.early_stopping_patience > 0:
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(early_stopping_patience=int(t.early_stopping_patience)))
        log.info("Early stopping after %d evaluations without a better %s", t.early_stopping_patience,
                 t.best_model_metric)
    return callbacks


def val_f1_callback(records: list[dict], generation_cfg, backend: str):
    from omegaconf import OmegaConf
    from transformers import TrainerCallback

    from odin.evaluation import score_generations
    from odin.format import build_prompt
    from odin.inference import generate

    prompts = [build_prompt(r["input"], r["instruction"]) for r in records]
    # Greedy whatever generation.do_sample says: the same answers every evaluation, and the cheapest decoding.
    greedy = OmegaConf.merge(generation_cfg, {"do_sample": False})

    class ValF1(TrainerCallback):
        trainer = None

        def attach(self, trainer) -> None:
            # Logged through the trainer so every callback after it (the tracker's) records the scores by step.
            self.trainer = trainer

        def on_evaluate(self, args, state, control, metrics=None, model=None, processing_class=None, **kwargs):
            start = time.perf_counter()
            with _inference_mode(model, backend):
                answers = generate(model, processing_class, prompts, greedy, progress=False)
            scores, _ = score_generations(records, answers)
            headline = scores.headline()
            found = {f"eval_{name}": headline[name] for name in LOGGED}
            metrics.update(found)  # read next by the early stopper and by the trainer's best-checkpoint choice
            if self.trainer is not None:
                self.trainer.log(dict(found))
            log.info("step %d/%d  val entity F1 %.4f  relation F1 %.4f  (%d answers in %.1f s)", state.global_step,
                     state.max_steps, found["eval_entity_f1"], found["eval_relation_f1"], len(records),
                     time.perf_counter() - start)

    return ValF1()


class _inference_mode:
    """Unsloth's model must be switched into its inference mode to generate, and back; transformers' needs nothing
    (odin.inference.generate puts it in eval mode and back)."""

    def __init__(self, model, backend: str):
        self.model, self.unsloth = model, backend == "unsloth"

    def __enter__(self):
        if self.unsloth:
            from unsloth import FastLanguageModel

            FastLanguageModel.for_inference(self.model)
        return self.model

    def __exit__(self, *exc) -> bool:
        if self.unsloth:
            from unsloth import FastLanguageModel

            FastLanguageModel.for_training(self.model)
        return False
