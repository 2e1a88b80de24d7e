"""task=backfill: create the MLflow runs that are missing for run directories, so the history there is complete.

    python -m odin task=backfill                                   # outputs/ and multirun/
    python -m odin task=backfill backfill.dirs=[outputs,multirun,../old-project/experiments]
    python -m odin task=backfill backfill.dry_run=true             # list what would be logged

Idempotent: a directory whose run is already tracked (its `odin.run_key` tag) is skipped, so a second backfill adds
nothing. A directory that cannot be read is reported with the reason and skipped (odin/tracking/backfill.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from odin.errors import OdinError

log = logging.getLogger(__name__)


def check(cfg: DictConfig) -> None:
    if str(cfg.tracking.backend) != "mlflow":
        raise OdinError("task=backfill logs run directories to MLflow: run it with tracking=mlflow "
                        f"(now tracking={cfg.tracking.backend})")
    if not list(cfg.backfill.dirs):
        raise OdinError("backfill.dirs is empty: give the folders to scan, e.g. backfill.dirs=[outputs,multirun]")


def run(ctx) -> dict[str, float]:
    import mlflow

    from odin.app import TASKS
    from odin.tracking.backfill import find_runs, log_record, read_run
    from odin.tracking.mlflow_tracker import connect

    cfg = ctx.cfg
    dirs = [Path(str(d)).expanduser() for d in cfg.backfill.dirs]
    for d in dirs:
        if not d.exists():
            log.warning("backfill.dirs: %s does not exist; skipped", d)
    experiment_id = connect(str(cfg.tracking.uri), cfg.tracking)
    client = mlflow.MlflowClient()
    tracked = _tracked_keys(client, experiment_id)
    added, already, skipped = [], 0, []
    for run_dir in find_runs(dirs):
        if run_dir.resolve() == ctx.run_dir.resolve():
            continue
        try:
            records = read_run(run_dir, float(cfg.tracking.max_artifact_mb))
        except OdinError as err:
            skipped.append((run_dir, str(err)))
            log.warning("Skipped %s: %s", run_dir, err)
            continue
        for record in records:
            task = record.tags.get("odin.task", "")
            if task in TASKS and not TASKS[task].tracked:
                continue  # predict, register, backfill: not experiments
            if record.key in tracked:
                already += 1
                continue
            if cfg.backfill.dry_run:
                log.info("Would log %s (%s, %s)", record.key, record.name, record.status)
            else:
                log_record(client, experiment_id, record)
                tracked.add(record.key)
                log.info("Logged %s as %s (%s)", record.key, record.name, record.status)
            added.append(record.key)
    verb = "would be logged" if cfg.backfill.dry_run else "logged"
    log.info("Backfill: %d runs %s, %d already tracked, %d directories skipped", len(added), verb, already,
             len(skipped))
    for run_dir, reason in skipped:
        log.info("  skipped %s: %s", run_dir, reason)
    return {"backfilled": float(len(added)), "already_tracked": float(already), "skipped": float(len(skipped))}


def _tracked_keys(client, experiment_id: str) -> set[str]:
    keys, token = set(), None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        keys.update(r.data.tags["odin.run_key"] for r in page if "odin.run_key" in r.data.tags)
        token = page.token
        if not token:
            return keys
