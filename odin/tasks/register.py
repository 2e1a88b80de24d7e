"""task=register: a run's adapter becomes a new version of the registered model; `champion` moves if it wins.

    python -m odin task=register register.run_dir=outputs/<date>/<run>
    python -m odin task=register register.run_id=<mlflow run id>
    python -m odin task=register register.run_dir=... register.force=true    # a manual promotion
    python -m odin task=register register.run_dir=... register.require_significant=true  # a real gain only

A run directory that MLflow has not seen (tracking=none at the time) is backfilled first. The rule, the aliases
and the decisions: odin/tracking/registry.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from odin.errors import OdinError

log = logging.getLogger(__name__)


def check(cfg: DictConfig) -> None:
    r = cfg.register
    if str(cfg.tracking.backend) != "mlflow":
        raise OdinError("task=register uses the MLflow model registry: run it with tracking=mlflow "
                        f"(now tracking={cfg.tracking.backend})")
    if bool(r.run_dir) == bool(r.run_id):
        raise OdinError("task=register needs exactly one of register.run_dir=<a run directory> or "
                        "register.run_id=<an MLflow run id>")
    final = Path(str(r.run_dir)).expanduser() / "final_model" if r.run_dir else None
    # An adapter, or a fully fine-tuned model (lora.enabled=false): config.json and its weights.
    if final is not None and not any((final / name).is_file() for name in ("adapter_config.json", "config.json")):
        raise OdinError(f"register.run_dir={r.run_dir} holds no trained model (final_model/adapter_config.json, or "
                        "final_model/config.json of a full fine-tune); point it at the directory of a run that "
                        "trained a model")
    if not list(r.rule):
        raise OdinError("register.rule is empty: give the metrics that decide, e.g. [relation_f1,entity_f1]")
    if r.require_significant:
        from odin.tracking.significance import TESTABLE

        untestable = [str(m) for m in r.rule if m not in TESTABLE]
        if untestable:
            raise OdinError(f"register.require_significant=true tests the deciding metric by the paired bootstrap, "
                            f"which resamples {' and '.join(TESTABLE)} only; register.rule has "
                            f"{', '.join(untestable)}: drop it, or set register.require_significant=false")
        from odin.bootstrap import MIN_RESAMPLES

        if cfg.compare.resamples < MIN_RESAMPLES or not 0 < cfg.compare.confidence < 1:
            raise OdinError(f"register.require_significant=true bootstraps with compare.resamples (at least "
                            f"{MIN_RESAMPLES}, now {cfg.compare.resamples}) and compare.confidence (between 0 and 1, "
                            f"now {cfg.compare.confidence})")


def run(ctx) -> dict[str, float]:
    r = ctx.cfg.register
    run_dir = Path(str(r.run_dir)).expanduser() if r.run_dir else None
    version, promoted = register_run(ctx.cfg, run_id=r.run_id, run_dir=run_dir)
    return {"version": float(version), "promoted": float(promoted)}


def register_tracked_run(cfg: DictConfig, run_id: str | None, run_dir: Path) -> None:
    """register.auto=true at the end of a pipeline: the run that just trained and evaluated."""
    if run_id is None:
        log.warning("register.auto=true, but this run was not tracked: nothing registered")
        return
    register_run(cfg, run_id=run_id, run_dir=run_dir)


def register_run(cfg: DictConfig, *, run_id: str | None, run_dir: Path | None) -> tuple[str, bool]:
    import mlflow

    from odin.tracking import run_key
    from odin.tracking.backfill import log_record, read_run
    from odin.tracking.mlflow_tracker import connect
    from odin.tracking.registry import register

    experiment_id = connect(str(cfg.tracking.uri), cfg.tracking)
    client = mlflow.MlflowClient()
    if run_id:
        run = client.get_run(run_id)
    else:
        key = run_key(run_dir)
        found = client.search_runs([experiment_id], filter_string=f"tags.`odin.run_key` = '{key}'", max_results=1)
        if found:
            run = found[0]
        else:
            log.info("%s is not tracked yet: backfilling it first", run_dir)
            record = read_run(run_dir, float(cfg.tracking.max_artifact_mb))[0]
            run = client.get_run(log_record(client, experiment_id, record))
    r = cfg.register
    version, decision = register(client, str(cfg.tracking.registered_model_name), run, alias=str(r.alias),
                                 rule=[str(m) for m in r.rule], force=bool(r.force), run_dir=run_dir,
                                 significance=_significance(cfg))
    return version, decision.promote


def _significance(cfg: DictConfig):
    """register.require_significant: the bootstrap of task=compare's settings, else None (the rule alone decides)."""
    if not cfg.register.require_significant:
        return None
    from odin.tracking.significance import Significance

    c = cfg.compare
    return Significance(resamples=int(c.resamples), seed=int(c.seed), confidence=float(c.confidence))
