"""task=pipeline (the default): prepare -> train -> eval, all in one run directory (and, with register.auto=true,
register the trained adapter in the MLflow registry at the end)."""

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
    from odin.tasks.evaluate import evaluate
    from odin.data.prepare import ensure_prepared
    from odin.tasks.train import train

    cfg = ctx.cfg
    data_dir = ensure_prepared(cfg, ctx.run_dir)
    ctx.tracker.log_dataset(data_dir)
    model_dir = train(cfg, data_dir, ctx.run_dir, backend=ctx.backend, tracker=ctx.tracker)
    metrics = evaluate(cfg, data_dir, model_dir, ctx.run_dir, backend=ctx.backend, tracker=ctx.tracker)
    if cfg.register.auto and ctx.is_main_process:
        from odin.tasks.register import register_tracked_run

        register_tracked_run(cfg, ctx.tracker.run_id, ctx.run_dir)
    return metrics
