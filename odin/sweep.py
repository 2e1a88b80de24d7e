"""The end of a multirun, as a Hydra callback (conf/hydra/default.yaml): what its jobs did, and the exit status.

Jobs never stop a sweep (odin/app.py records a failed job in its directory and returns). Here, after the last job,
the sweep's job directories are read back: failures are listed with their reasons, counted for the exit status, and
with tracking on the sweep's parent MLflow run (created at the start, every job's run nested under it) is closed.
Jobs may have run in other processes or on other machines (joblib, submitit): everything is read from the files.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The job directories of a sweep (each holds the .hydra/ folder Hydra writes for a job), in job order."""
    jobs = [p.parent.parent for p in Path(sweep_dir).glob("*/.hydra/config.yaml")]
    return sorted(jobs, key=lambda p: (int(p.name.split("_", 1)[0]) if p.name.split("_", 1)[0].isdigit() else 1e9,
                                       p.name))


class SweepSummary(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if str(config.tracking.backend) != "mlflow":
            return
        from odin.errors import OdinError
        from odin.tracking.mlflow_tracker import start_sweep_run

        try:
            start_sweep_run(config, Path(str(config.hydra.sweep.dir)))
        except OdinError as err:  # each job will fail with the same clear message; the summary lists them
            log.error("%s", err)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from odin.app import note_failures, read_failure

        sweep = Path(str(config.hydra.sweep.dir))
        jobs = job_dirs(sweep)
        failed = {job: read_failure(job) for job in jobs}
        failed = {job: f for job, f in failed.items() if f is not None}
        note_failures([str(job) for job in failed])
        if failed:
            log.error("%d of %d jobs failed:", len(failed), len(jobs))
            for job, failure in failed.items():
                log.error("  %s: %s: %s", job.name, failure.get("error_type"), failure.get("message"))
        else:
            log.info("All %d jobs of %s finished", len(jobs), sweep)
        if str(config.tracking.backend) == "mlflow":
            from odin.tracking.mlflow_tracker import end_sweep_run

            try:
                end_sweep_run(config, sweep, len(failed), [])
            except Exception as err:  # the summary must not fail the sweep after its jobs ran
                log.warning("Could not close the sweep's MLflow run: %s", err)
