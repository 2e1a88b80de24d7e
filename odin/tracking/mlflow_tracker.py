"""`tracking=mlflow`: one MLflow run per odin run, opened and closed by the run context.

    experiment  tracking.experiment_name (one for the project)
    run name    <version>-<task> (in a sweep: -<job number>), nested under the sweep's parent run
    tags        version, task, git commit and dirty flag, model, backend, data sources, host, sweep, run dir identity
    params      the composed config, flattened (secrets redacted), the trainer's arguments under `trainer.`, and the
                prepared data's size per split
    metrics     training by step (transformers' own MLflowCallback), evaluation (odin.tracking.evaluation_metrics),
                and MLflow's system metrics (CPU/GPU utilisation and memory) while the run lasts
    artifacts   the composed config and the command line's overrides, the dataset card and stats, the adapter (or
                a link), evaluation_results.json, the plots

The store: `tracking.uri`, else $MLFLOW_TRACKING_URI, else outputs/mlflow.db (SQLite, no server;
conf/tracking/mlflow.yaml).
A server that does not answer stops the run before any work, naming the URI; a call that fails later is a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Mapping

from filelock import FileLock
from omegaconf import OmegaConf

from odin.errors import OdinError
from odin.tracking import Tracker, flatten, git_state, host, redact, run_key

log = logging.getLogger(__name__)

SWEEP_PARENT_FILE = ".mlflow_parent_run"  # in a sweep dir: the id of the sweep's parent run
PROBE_TIMEOUT_S = 3.0


class MlflowTracker(Tracker):
    enabled = True

    def __init__(self, cfg, run_dir: Path, *, backend: str | None):
        self.cfg, self.run_dir, self.backend = cfg, Path(run_dir), backend
        self.uri = str(cfg.tracking.uri)
        self._broken = False

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def __enter__(self) -> "MlflowTracker":
        import mlflow

        experiment_id = self._experiment_id = connect(self.uri, self.cfg.tracking)
        sweep = _sweep_dir()
        parent = _read_parent(sweep) if sweep else None
        name = f"{self.cfg.version}-{self.cfg.task}"
        if sweep is not None:
            name += f"-{_job_num()}"
        if self.cfg.tracking.system_metrics:
            mlflow.set_system_metrics_sampling_interval(float(self.cfg.tracking.system_metrics_interval_s))
        run = mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=self._tags(sweep),
                               parent_run_id=parent, log_system_metrics=bool(self.cfg.tracking.system_metrics))
        self.run_id = run.info.run_id
        log.info("Tracking to MLflow at %s: experiment %s, run %s (%s)", self.uri, self.cfg.tracking.experiment_name,
                 name, self.run_id)
        if self.cfg.tracking.system_metrics:
            log.info("System metrics every %g s: CPU, memory, disk, network; %s",
                     self.cfg.tracking.system_metrics_interval_s, gpu_metrics_note())
        container = OmegaConf.to_container(self.cfg, resolve=True)
        self.log_params({k: redact(v) for k, v in flatten(container).items()})
        self._call("log the config", mlflow.log_text, redact(OmegaConf.to_yaml(self.cfg, resolve=True)),
                   "config/config.yaml")
        overrides = self.run_dir / ".hydra" / "overrides.yaml"  # the command line: what task=compare plots against
        if overrides.is_file():
            self._call("log the overrides", mlflow.log_text, redact(overrides.read_text(encoding="utf-8")),
                       "config/overrides.yaml")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        import mlflow

        if exc_type is None:
            status = "FINISHED"
        else:
            status = "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED"
            self.set_tags({"odin.error_type": exc_type.__name__, "odin.error": redact(str(exc))[:5000]})
        self._call("end the run", mlflow.end_run, status)
        if self.uri.startswith(("http://", "https://")) and self.run_id:
            log.info("MLflow run %s: %s/#/experiments/%s/runs/%s", status, self.uri.rstrip("/"), self._experiment_id,
                     self.run_id)
        return False

    def _tags(self, sweep: Path | None) -> dict[str, str]:
        cfg = self.cfg
        commit, dirty = git_state(Path(__file__).resolve().parents[2])
        sources = [name for name, src in cfg.data.sources.items() if src is not None]
        tags = {
            "odin.version": str(cfg.version), "odin.task": str(cfg.task), "odin.model": str(cfg.model.name),
            "odin.backend": str(self.backend or "none"), "odin.data_sources": ",".join(sources) or "none",
            "odin.host": host(), "odin.run_key": run_key(self.run_dir), "odin.run_dir": str(self.run_dir.resolve()),
            "mlflow.source.git.commit": commit, "odin.git_dirty": str(dirty).lower(),
        }
        if sweep is not None:
            tags["odin.sweep"] = run_key(sweep)
        return {k: redact(v) for k, v in tags.items()}

    # -- primitives: a failure after the start is a warning, once ------------------------------------------------
    def _call(self, what: str, fn, *args, **kwargs) -> Any:
        if self._broken:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # a tracking store that fails mid-run must not cost the run
            self._broken = True
            log.warning("MLflow: could not %s (%s: %s). The run goes on and its results stay in %s; once the store "
                        "is back, `python -m odin task=backfill` logs them.", what, type(err).__name__, err,
                        self.run_dir)
            return None

    def log_params(self, params: Mapping[str, Any]) -> None:
        import mlflow

        clean = {k: ("null" if v is None else v) for k, v in params.items()}
        self._call("log params", mlflow.log_params, clean)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        import mlflow

        self._call("log metrics", mlflow.log_metrics, dict(metrics), step=step)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        import mlflow

        path = Path(path)
        fn = mlflow.log_artifacts if path.is_dir() else mlflow.log_artifact
        self._call(f"log {path.name}", fn, str(path), artifact_path)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        import mlflow

        self._call("set tags", mlflow.set_tags, {k: redact(str(v)) for k, v in tags.items()})

    def trainer_callbacks(self) -> list:
        return [_trainer_callback(self)]


TRAINER_PARAM_PREFIX = "trainer."  # the TrainingArguments as the trainer saw them: trainer.seed, trainer.learning_rate


def _trainer_callback(tracker: MlflowTracker):
    """transformers' own MLflowCallback for the metrics by step (loss, learning rate, epoch, eval loss and odin's
    tokens_per_s, into the active run), with its params sent through the tracker under `trainer.`.

    Left to itself the callback logs the TrainingArguments and the model's config unprefixed, and its `seed` collides
    with odin's top-level `seed` whenever `training.seed` differs from it: MLflow refuses to change a param, and the
    whole batch of ~100 params it was in is lost. The model's shape is in odin's own `model.*` params already.
    """
    from transformers.integrations import MLflowCallback

    class OdinMlflowCallback(MLflowCallback):
        def setup(self, args, state, model):
            if state.is_world_process_zero:
                tracker.log_params(trainer_params(args.to_dict()))  # to_dict() masks the *_token arguments
            # The rest of setup() starts a run and reads MLflow's env switches; the run is odin's, already active.
            self._async_log = True  # what setup() chooses on MLflow >= 2.8: metrics are queued, not awaited
            self._initialized = True

    return OdinMlflowCallback()


def trainer_params(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """TrainingArguments.to_dict() as params: prefixed, secrets redacted, values MLflow would refuse left out."""
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    scalar = (str, int, float, bool, type(None))
    params = {f"{TRAINER_PARAM_PREFIX}{k}": redact(v if isinstance(v, scalar) else json.dumps(v, default=str))
              for k, v in arguments.items()}
    return {k: v for k, v in params.items() if len(str(v)) <= MAX_PARAM_VAL_LENGTH}


def gpu_metrics_note() -> str:
    """Whether MLflow's system metrics will include the GPUs, and if not why, asked the way MLflow asks (its own
    INFO line saying so is muted with the rest of its housekeeping)."""
    try:
        from mlflow.system_metrics.metrics.gpu_monitor import GPUMonitor

        count = GPUMonitor().num_gpus
    except Exception as err:  # no NVIDIA driver, no GPU, no nvidia-ml-py: the reason MLflow would give
        return f"no GPU metrics ({err})"
    return f"GPU utilisation, memory and power of {count} NVIDIA GPU(s)"


# --- the store ------------------------------------------------------------------------------------------------------


def connect(uri: str, tracking_cfg) -> str:
    """Point MLflow at `uri` and return the experiment id, creating the experiment (and a local store) if needed.

    A server that does not answer is an OdinError naming the URI and the ways out, raised before any work.
    """
    import mlflow

    # MLflow narrates its own housekeeping at INFO (creating tables, starting the system-metrics thread): not the
    # user's business in odin's console. Its warnings and errors still show.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    _probe(uri)
    lock = contextlib.nullcontext()
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):]).expanduser()
        db.parent.mkdir(parents=True, exist_ok=True)
        # MLflow creates and migrates a new SQLite store on first use; jobs of a parallel sweep doing that at once
        # collide ("duplicate column name"), so the first use is one at a time. Later writes run in parallel.
        lock = FileLock(f"{db}.lock")
    # A server that stops answering mid-run should cost a few seconds, not MLflow's default minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    # stdout carries a task's output (task=predict's JSONL); odin logs the run's link itself, on stderr.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    mlflow.set_tracking_uri(uri)
    with lock:
        return _experiment_id(uri, tracking_cfg)


def _experiment_id(uri: str, tracking_cfg) -> str:
    import mlflow

    name = str(tracking_cfg.experiment_name)
    client = mlflow.MlflowClient()
    try:
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = tracking_cfg.artifact_location
        if not location and uri.startswith("sqlite:///"):  # a local store keeps its artifacts beside it
            location = Path(uri[len("sqlite:///"):]).expanduser().parent / "mlartifacts"
        if location and "://" not in str(location):
            location = Path(str(location)).expanduser().resolve().as_uri()
        try:
            return client.create_experiment(name, artifact_location=location or None)
        except Exception:  # another job created it in between
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id
    except OdinError:
        raise
    except Exception as err:
        raise OdinError(f"The MLflow store at {uri} could not be used ({type(err).__name__}: {err}). "
                        + _ways_out(uri)) from err


def _probe(uri: str) -> None:
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=PROBE_TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as err:
        if err.code in (401, 403):  # it answers: authentication is MLflow's business (MLFLOW_TRACKING_TOKEN, ...)
            return
        raise OdinError(f"The MLflow server at {uri} answered HTTP {err.code} to a health check. "
                        + _ways_out(uri)) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise OdinError(f"The MLflow tracking server at {uri} is not reachable ({reason}). " + _ways_out(uri)) from err


def _ways_out(uri: str) -> str:
    return ("Start one (`mlflow server --host 127.0.0.1 --port 5000 --backend-store-uri sqlite:///outputs/mlflow.db`), "
            "point tracking.uri (or MLFLOW_TRACKING_URI) at one that runs, or run with tracking=none. "
            "Nothing was trained; the run directory is kept.")


# --- sweeps ---------------------------------------------------------------------------------------------------------


def _sweep_dir() -> Path | None:
    """The sweep directory when this job is part of a multirun, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(str(HydraConfig.get().sweep.dir))


def _job_num() -> int:
    from hydra.core.hydra_config import HydraConfig

    return int(HydraConfig.get().job.num)


def _read_parent(sweep: Path) -> str | None:
    path = sweep / SWEEP_PARENT_FILE
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def start_sweep_run(cfg, sweep: Path) -> str:
    """Create the parent run of a sweep (not made active: each job's run nests under it by id) and remember its id in
    the sweep dir, where jobs on any launcher (local processes, SLURM) find it."""
    import mlflow

    experiment_id = connect(str(cfg.tracking.uri), cfg.tracking)
    client = mlflow.MlflowClient()
    run = client.create_run(experiment_id, run_name=f"{cfg.version}-sweep-{sweep.name}",
                            tags={"odin.sweep": run_key(sweep), "odin.task": "sweep", "odin.version": str(cfg.version),
                                  "odin.run_key": run_key(sweep), "odin.host": host()})
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / SWEEP_PARENT_FILE).write_text(run.info.run_id, encoding="utf-8")
    return run.info.run_id


def end_sweep_run(cfg, sweep: Path, failed: int, artifacts: list[Path]) -> None:
    import mlflow

    run_id = _read_parent(sweep)
    if run_id is None:
        return
    mlflow.set_tracking_uri(str(cfg.tracking.uri))
    client = mlflow.MlflowClient()
    for path in artifacts:
        client.log_artifact(run_id, str(path), "summary")
    client.set_tag(run_id, "odin.failed_jobs", str(failed))
    client.set_terminated(run_id, "FAILED" if failed else "FINISHED")
