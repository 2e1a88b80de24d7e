"""task=pipeline (the default): prepare -> train -> eval, all in one run directory (and, with register.auto=true,
register the trained adapter in the MLflow registry at the end).

With a validation `optimized_metric` (`val_relation_f1`: what a search must optimize, never a test score), the
trained model is scored on the val split too, into `val/` of the run directory, and the returned metrics hold both
splits (`val_relation_f1` beside `relation_f1`); `evaluation_results.json` stays the test split's.
"""

from __future__ import annotations

from omegaconf import DictConfig


def check(cfg: DictConfig) -> None:
    from odin.tasks import evaluate, train

    train.check(cfg)
    evaluate.check(cfg)
    if cfg.register.auto and str(cfg.tracking.backend) == "none":
        from odin.errors import OdinError

        raise OdinError("register.auto=true registers the trained model in the MLflow registry, which needs "
                        "tracking=mlflow (now tracking=none)")


def check_libraries(cfg: DictConfig) -> None:
    from odin.tasks import train

    train.check_libraries(cfg)


def run(ctx) -> dict[str, float]:
    from odin.data.prepare import ensure_prepared
    from odin.tasks.evaluate import evaluate, load_eval_records, optimized_split, split_config
    from odin.tasks.train import train

    cfg = ctx.cfg
    data_dir = ensure_prepared(cfg, ctx.run_dir)
    ctx.tracker.log_dataset(data_dir)
    split = optimized_split(cfg)
    also = split_config(cfg, split) if split != str(cfg.eval.split) else None
    if also is not None:
        load_eval_records(also, data_dir)  # no val split to score: say so before training, not after
    model_dir = train(cfg, data_dir, ctx.run_dir, backend=ctx.backend, tracker=ctx.tracker)
    metrics = {}
    if also is not None:  # first, so that the tracked run's test-set tags are the test split's
        metrics.update(evaluate(also, data_dir, model_dir, ctx.run_dir / split, backend=ctx.backend,
                                tracker=ctx.tracker))
    metrics.update(evaluate(cfg, data_dir, model_dir, ctx.run_dir, backend=ctx.backend, tracker=ctx.tracker))
    if cfg.register.auto and ctx.is_main_process:
        from odin.tasks.register import register_tracked_run

        register_tracked_run(cfg, ctx.tracker.run_id, ctx.run_dir)
    return metrics
