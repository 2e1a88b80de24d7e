"""The end of a multirun, as a Hydra callback (conf/hydra/default.yaml): what its jobs did, and the exit status.

Jobs never stop a sweep (odin/app.py records a failed job in its directory and returns). Here, after the last job,
the sweep's job directories are read back: failures are listed with their reasons and counted for the exit status,
task=compare's table, CSV and plots are written into the sweep dir, and with tracking on they are logged to the
sweep's parent MLflow run (created at the start, every job's run nested under it), which is then closed.
Jobs may have run in other processes or on other machines (joblib, submitit): everything is read from the files.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


# A job directory's name stays well under the 255 bytes a filesystem allows for one name: an Optuna trial's floats
# (learning_rate=0.0002051338263087451) or a long grid soon exceed it, and the job would fail before it starts.
MAX_JOB_DIRNAME = 160


def job_dirname(num: int, override_dirname: str) -> str:
    """`${odin_job_dir:...}` (conf/hydra/default.yaml): `<n>_<overrides>`, long floats written with 4 significant
    digits, then cut with a hash of the whole name when still too long. The number keeps names apart, and the job's
    .hydra/overrides.yaml keeps every value as given."""
    import hashlib
    import re

    short = re.sub(r"(?<==)-?\d+\.\d{5,}(?:e-?\d+)?(?=,|$)", lambda m: f"{float(m.group()):.4g}", override_dirname)
    name = f"{num}_{short}" if short else str(num)
    if len(name.encode()) <= MAX_JOB_DIRNAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name.encode()[:MAX_JOB_DIRNAME - 12].decode(errors='ignore')}..{digest}"


def _resolvable(config: DictConfig) -> DictConfig:
    """The sweep's config with Hydra's runtime in reach: the defaults read `${hydra:runtime.cwd}` (the default tracking
    store under `paths.root_dir`), which Hydra sets only when a job starts, not before the first or after the last."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        HydraConfig.instance().set_config(config)
    return config


# The sweep directory of the multirun this process started: a job config that cannot be composed stops the sweep
# after Hydra created it (holding only multirun.yaml), and `discard_unlaunched_sweep` then removes it.
_sweep_dir: Path | None = None


class SweepSummary(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        global _sweep_dir
        check_sweep_keys(config)
        _sweep_dir = Path(str(config.hydra.sweep.dir))
        if str(config.tracking.backend) != "mlflow":
            return
        config = _resolvable(config)
        from odin.errors import OdinError
        from odin.tracking.mlflow_tracker import start_sweep_run

        try:
            start_sweep_run(config, Path(str(config.hydra.sweep.dir)))
        except OdinError as err:  # each job will fail with the same clear message; the summary lists them
            log.error("%s", err)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from odin.app import note_failures, read_failure
        from odin.compare import find_job_dirs

        config = _resolvable(config)

        sweep = Path(str(config.hydra.sweep.dir))
        jobs = find_job_dirs(sweep) if sweep.is_dir() else []
        failed = {job: read_failure(job) for job in jobs}
        failed = {job: f for job, f in failed.items() if f is not None}
        note_failures([str(job) for job in failed])
        if failed:
            log.error("%d of %d jobs failed:", len(failed), len(jobs))
            for job, failure in failed.items():
                log.error("  %s: %s: %s", job.name, failure.get("error_type"), failure.get("message"))
        else:
            log.info("All %d jobs of %s finished", len(jobs), sweep)
        summary = _compare(config, jobs, sweep) if jobs else []
        if str(config.tracking.backend) == "mlflow":
            from odin.tracking.mlflow_tracker import end_sweep_run

            try:
                end_sweep_run(config, sweep, len(failed), summary)
            except Exception as err:  # the summary must not fail the sweep after its jobs ran
                log.warning("Could not close the sweep's MLflow run: %s", err)


def check_sweep_keys(config: DictConfig) -> None:
    """Stop a sweep whose overrides (command line and a saved sweep's `hydra.sweeper.params`) name a key odin does not
    know, or set a field of a data source the data config leaves out, before its directory or any job exists.

    Each job validates its own composed config too; this catches what would otherwise fail every job alike. A
    swept config group (`data=ade,mix`, or a group among the params) decides per job which sources exist, so sources
    are then left to each job. Exits (SystemExit): Hydra turns a callback's exceptions into warnings."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from odin.validate import override_problems, refuse

    params = config.hydra.sweeper.get("params") or {}
    overrides = list(config.hydra.overrides.task) + [f"{key}={value}" for key, value in params.items()]
    groups = set(config.hydra.runtime.choices)
    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    swept_group = any(key.lstrip("+~") in groups for key in params) or any(
        o.key_or_group in groups and o.is_sweep_override() for o in parsed)
    problems = override_problems(config, overrides, check_sources=not swept_group)
    if problems:
        refuse(problems)


def discard_unlaunched_sweep() -> None:
    """Remove the sweep directory of a multirun stopped before its first job (it holds only multirun.yaml)."""
    from odin.app import remove_empty_dirs

    if _sweep_dir is None or not _sweep_dir.is_dir():
        return
    if any(p.name != "multirun.yaml" for p in _sweep_dir.iterdir()):
        return
    (_sweep_dir / "multirun.yaml").unlink(missing_ok=True)
    remove_empty_dirs(_sweep_dir)


def _compare(config: DictConfig, jobs: list[Path], sweep: Path) -> list[Path]:
    """task=compare over the sweep's jobs, written into the sweep dir (compare.md, compare.csv, the plots)."""
    from odin.tasks.compare import compare

    try:
        return compare(config, jobs, sweep)
    except Exception as err:  # the summary must not fail the sweep after its jobs ran
        log.warning("Could not compare the sweep's jobs: %s", err)
        return []
