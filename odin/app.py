"""Maps `task=<name>` to the task function that runs it, and turns user errors into clear exits.

Task functions live in odin/tasks/ and are imported only when chosen, so `--help` and config checks stay fast.
Each takes the composed config and returns a dict of metrics (possibly empty).
"""

from __future__ import annotations

import importlib
import logging
import math
import sys

from omegaconf import DictConfig

from odin.errors import NotImplementedTask, OdinError

log = logging.getLogger(__name__)

TASKS = {
    "pipeline": "odin.tasks.pipeline",
    "prepare": "odin.tasks.prepare",
    "train": "odin.tasks.train",
    "eval": "odin.tasks.evaluate",
    "predict": "odin.tasks.predict",
    "publish": "odin.tasks.publish",
}
# On the command line and in the schema, but not built yet: they fail loudly rather than pretend.
PLANNED = {
    "backfill": "log earlier versions' results to MLflow",
    "register": "register a run's model in the MLflow registry and move the `champion` alias",
    "compare": "compare runs side by side",
}


def run_task(cfg: DictConfig) -> dict[str, float]:
    task = str(cfg.task)
    if task in PLANNED:
        raise NotImplementedTask(f"task={task} ({PLANNED[task]}) is not implemented yet. Built tasks: {', '.join(TASKS)}.")
    if str(cfg.tracking.backend) != "none":
        raise NotImplementedTask(
            f"tracking={cfg.tracking.backend} is not implemented yet; run with tracking=none "
            "(results are still written to the run directory)."
        )
    module = importlib.import_module(TASKS[task])
    return module.run(cfg) or {}


def run(cfg: DictConfig) -> float | None:
    """Run the configured task; return the metric a sweeper optimizes (None when the task produces none)."""
    try:
        metrics = run_task(cfg)
    except OdinError as err:
        log.error("%s", err)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    value = metrics.get(cfg.optimized_metric)
    return None if value is None or math.isnan(value) else float(value)
