"""The one table of tasks, and the run context every task runs inside.

`python -m odin task=<name> ...` composes the config (odin/__main__.py) and calls `run(cfg)`, which

    under hydra/launcher=joblib_gpus, gives the job's worker process its own GPU (odin/devices.py)
    validates the config: unknown keys, bounds, the task's own checks   (a bad setting stops here, no run dir kept;
        nothing here imports torch or transformers, so it answers at once)
    resolves the training backend once (Unsloth must import first); seeds Python, NumPy and torch from `seed`
    opens the tracker (tracking=mlflow|none) around the task and closes it in `finally`
    runs the task: `run(ctx)` of odin/tasks/<module>.py, which returns its metrics

Under torchrun (one process per GPU, odin/distributed.py) every rank runs this with the same config and run
directory; rank 0 alone tracks the run and records a failure (the others get the no-op tracker and log theirs).

A task that fails leaves `failure.json` in its run directory, its tracked run FAILED (KILLED on Ctrl-C) and one clear
log line. Nothing here calls `sys.exit`: in a multirun the other jobs go on, and the process exits non-zero at the
end (odin/__main__.py reads `exit_status()`).

This module imports only the standard library at the top: odin.schema builds its list of task names from TASKS.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import logging
import math
import shutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odin.distributed import is_main_process, rank, world_size
from odin.errors import NotImplementedTask, OdinError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from odin.tracking import Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskSpec:
    module: str | None  # odin.tasks.<name>; None for a task that is planned but not built
    summary: str  # one line, for --help and errors
    uses_model: bool = False  # loads a model: the backend is resolved and torch seeded first
    tracked: bool = True  # opens a tracked run (register and backfill work on the tracking store itself)
    distributed: bool = False  # can run as one job over several processes (torchrun / accelerate launch)


TASKS: dict[str, TaskSpec] = {
    "pipeline": TaskSpec("odin.tasks.pipeline", "prepare -> train -> eval in one run directory (the default)", True,
                         distributed=True),
    "prepare": TaskSpec("odin.tasks.prepare", "raw corpora -> train/val/test splits, statistics, dataset card"),
    "train": TaskSpec("odin.tasks.train", "fine-tune LoRA adapters on prepared data", True, distributed=True),
    "eval": TaskSpec("odin.tasks.evaluate", "generate answers for a split, score them, write evaluation_results.json",
                     True, distributed=True),
    "predict": TaskSpec("odin.tasks.predict", "run a trained model on new text, write JSONL", True, tracked=False),
    "register": TaskSpec("odin.tasks.register",
                         "register a run's adapter in the MLflow registry; move `champion` if it wins", tracked=False),
    "backfill": TaskSpec("odin.tasks.backfill", "log earlier runs' results to MLflow (idempotent)", tracked=False),
    "publish": TaskSpec("odin.tasks.publish", "push an adapter with its model card, or the prepared data with its "
                        "dataset card, to the Hugging Face Hub"),
    "compare": TaskSpec("odin.tasks.compare", "compare runs side by side: the keys that differ, metrics with "
                        "bootstrap CIs, paired differences, plots"),
    "vote": TaskSpec("odin.tasks.vote", "combine evaluated runs' answers by a vote, score it as a run of its own"),
}

FAILURE_FILE = "failure.json"


@dataclass
class RunContext:
    """What a task gets: the config, its run directory, the training backend and the open tracker."""

    cfg: DictConfig
    run_dir: Path
    backend: str | None  # "hf" | "unsloth" for tasks that load a model, else None
    tracker: Tracker
    multirun: bool = False
    # False on the other ranks of a torchrun job: they compute what rank 0 does, and rank 0 alone writes and tracks.
    is_main_process: bool = True
    info: dict[str, Any] = field(default_factory=dict)  # what tasks hand each other within a run (e.g. data_dir)


_failures: set[str] = set()  # run dirs of the jobs that failed in this process


def exit_status() -> int:
    """1 when a job run by this process failed (a multirun's summary adds the jobs run elsewhere), else 0."""
    return 1 if _failures else 0


def note_failures(run_dirs: list[str]) -> None:
    """Count failures found after the fact (a multirun's jobs ran in other processes)."""
    _failures.update(run_dirs)


def run(cfg: DictConfig) -> float | None:
    """Run the configured task in its run context; return the metric a sweeper optimizes (None when there is none)."""
    from odin.validate import validate

    task = str(cfg.task)
    run_dir = Path(cfg.paths.output_dir)
    multirun = in_multirun()
    spec = TASKS[task]
    try:
        if spec.module is None:
            built = ", ".join(name for name, s in TASKS.items() if s.module)
            raise NotImplementedTask(f"task={task} ({spec.summary}) is not implemented yet. Built tasks: {built}.")
        if world_size() > 1 and not spec.distributed:
            several = ", ".join(f"task={name}" for name, s in TASKS.items() if s.distributed)
            raise OdinError(f"task={task} runs in one process, and this one was started as rank {rank()} of "
                            f"{world_size()} (torchrun / accelerate launch). Start it with `python -m odin task={task} "
                            f"...`; {several} run over several processes.")
        from odin.devices import assign_job_gpu

        # hydra/launcher=joblib_gpus: this worker's GPU, set before anything touches CUDA (a job refused below has
        # claimed it too: the worker keeps it for its next job).
        assign_job_gpu()
        # Validation imports neither torch nor transformers (tests/test_cli.py holds it to that), so a bad
        # setting, a missing corpus or an unreachable Hub model is reported in a second or two.
        validate(cfg)
        backend = None
        if spec.uses_model:
            from odin.modeling.backends import resolve_backend

            # Before anything imports transformers: Unsloth patches it when imported.
            backend = resolve_backend(cfg.model, not cfg.lora.enabled)
            check_libraries = getattr(importlib.import_module(spec.module), "check_libraries", None)
            if check_libraries is not None:  # settings only transformers can judge (optimizer names ...)
                check_libraries(cfg)
    except OdinError as err:
        # Nothing has run: a single run leaves no directory behind; a sweep job keeps its record of why it failed.
        if multirun:
            _record_failure(run_dir, "FAILED", err)
        else:
            _failures.add(str(run_dir))
            if is_main_process():
                _discard_run_dir(run_dir, task)
        _report(err, run_dir if multirun else None)
        return None

    try:
        metrics = _run_task(cfg, spec, run_dir, backend, multirun)
    except OdinError as err:
        _record_failure(run_dir, "FAILED", err)
        _report(err, run_dir)
        return None
    except KeyboardInterrupt as err:
        _record_failure(run_dir, "KILLED", err)
        log.error("Interrupted; the run directory %s keeps what was written", run_dir)
        raise
    except Exception as err:  # a crash (a bug, out of memory): recorded, and in a sweep the other jobs go on
        _record_failure(run_dir, "FAILED", err)
        if not multirun:
            raise  # a single run shows the traceback, as Python does
        log.exception("Job failed (%s: %s); the sweep goes on. Its run directory: %s", type(err).__name__, err,
                      run_dir)
        return None
    value = metrics.get(str(cfg.optimized_metric))
    return None if value is None or math.isnan(value) else float(value)


def _run_task(cfg: DictConfig, spec: TaskSpec, run_dir: Path, backend: str | None, multirun: bool) -> dict[str, float]:
    from odin.tracking import open_tracker

    # The same seed on every rank of a distributed job, as the trainer expects: identical LoRA initialization, and a
    # data order that its sampler then splits between the ranks.
    seed_everything(int(cfg.seed), torch_too=spec.uses_model)
    main = is_main_process()
    tracker = open_tracker(cfg, run_dir, backend=backend, enabled=spec.tracked and main)
    with tracker:
        ctx = RunContext(cfg=cfg, run_dir=run_dir, backend=backend, tracker=tracker, multirun=multirun,
                         is_main_process=main)
        metrics = importlib.import_module(spec.module).run(ctx) or {}
    return metrics


def seed_everything(seed: int, torch_too: bool) -> None:
    """Seed Python and NumPy (and torch, for tasks that load a model) so a run can be repeated."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    if torch_too:
        import torch

        torch.manual_seed(seed)  # also seeds every CUDA device


def in_multirun() -> bool:
    """Whether this process runs a job of a sweep (`-m`): a sweeper, or a person reading a summary, gets its result."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _report(err: OdinError, run_dir: Path | None) -> None:
    """The error, once on stderr. A run that keeps its directory logs it (console and the run's log file, beside
    failure.json); a run that failed validation keeps no log file, so the line is printed plainly."""
    if run_dir is None:
        print(f"error: {err}", file=sys.stderr)
    else:
        log.error("%s (recorded in %s)", err, run_dir / FAILURE_FILE)


def _record_failure(run_dir: Path, status: str, err: BaseException) -> None:
    """failure.json in the run dir: what failed and why, for a person, a sweep summary and task=compare.

    Written by rank 0 only; another rank's failure is in its own log lines (stderr), which torchrun prints."""
    _failures.add(str(run_dir))
    if not is_main_process():
        log.error("rank %d failed (%s: %s)", rank(), type(err).__name__, str(err) or type(err).__name__)
        return
    record = {"status": status, "error_type": type(err).__name__, "message": str(err) or type(err).__name__,
              "time": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    if not isinstance(err, (OdinError, KeyboardInterrupt)):
        record["traceback"] = "".join(traceback.format_exception(err)).rstrip()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / FAILURE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as io_err:  # never let the record of a failure hide the failure itself
        log.warning("Could not write %s: %s", run_dir / FAILURE_FILE, io_err)


def read_failure(run_dir: Path) -> dict | None:
    """The failure record of a run directory, or None when it did not fail."""
    path = Path(run_dir) / FAILURE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {"status": "FAILED", "error_type": "unknown", "message": f"unreadable {path}"}


def _discard_run_dir(run_dir: Path, task: str) -> None:
    """Remove what Hydra wrote for a run that failed validation (its .hydra/ and log), and the folder if then empty.

    Only those files: a run directory given by hand (hydra.run.dir=...) may hold earlier work, which is kept.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == run_dir.resolve():
            root.removeHandler(handler)
            handler.close()
    shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
    (run_dir / f"{task}.log").unlink(missing_ok=True)
    remove_empty_dirs(run_dir)


def remove_empty_dirs(folder: Path) -> None:
    """Remove `folder` if empty, then each parent left empty (the date folder, outputs/) up to the working
    directory, never above it: a run that wrote nothing leaves nothing behind."""
    folder, stop = Path(folder).resolve(), Path.cwd().resolve()
    while folder != stop:
        try:
            folder.rmdir()
        except OSError:  # not empty (or not there): what remains is someone's
            if folder.exists():
                return
        if stop not in folder.parents:  # a directory outside the working directory: only itself
            return
        folder = folder.parent
