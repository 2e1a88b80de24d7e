"""Tracked runs read back as task=compare reads run directories: an MLflow experiment's runs, the registry's champion.

A run's per-example records are the `evaluation_results.json` the tracker logged as an artifact (or, where the store
lacks it, the file in the run directory the run was tagged with); its config is the logged `config/config.yaml` and
`config/overrides.yaml` (or, for runs logged without them, the params). From there a tracked run is an
odin.compare.RunRecord like any run directory, rescored and compared by the same code.

The store: tracking.uri, else $MLFLOW_TRACKING_URI, else outputs/mlflow.db, the store tracking=mlflow writes to.
Reading never creates anything in it: a missing experiment, store or champion is an OdinError saying what is there.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import yaml

from odin.compare import RESULTS_FILE, RunRecord, flatten, score_results
from odin.errors import OdinError

log = logging.getLogger(__name__)

# Runs of these tasks are no rows of a comparison (they score nothing themselves).
NOT_COMPARED = {"sweep": "the parent run of a sweep, whose jobs are runs of their own",
                "compare": "a task=compare run"}


def store_uri(cfg) -> str:
    """Where tracked runs are read from (the store tracking=mlflow logs to, also when this run has tracking=none)."""
    return str(cfg.tracking.uri or os.environ.get("MLFLOW_TRACKING_URI")
               or f"sqlite:///{Path(str(cfg.paths.root_dir)) / 'outputs' / 'mlflow.db'}")


def open_store(uri: str):
    """An MlflowClient for the store at `uri`; a local store that does not exist or a server that does not answer is
    an OdinError (MLflow would create an empty SQLite store, and compare nothing)."""
    from mlflow import MlflowClient

    from odin.tracking.mlflow_tracker import _probe

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per small file is only noise
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).expanduser().is_file():
        raise OdinError(f"No MLflow store at {uri}: no run has been tracked there. Point tracking.uri (or "
                        "MLFLOW_TRACKING_URI) at the store the runs were logged to")
    _probe(uri)
    return MlflowClient(uri)


def experiment_id(client, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        names = sorted(e.name for e in client.search_experiments())
        raise OdinError(f"compare.experiment={name}: no such MLflow experiment at {client.tracking_uri}; it has "
                        f"{', '.join(names) or 'none'}")
    return experiment.experiment_id


def experiment_records(client, name: str, filter_string: str = "") -> list[RunRecord]:
    """The runs of experiment `name` (optionally those matching an MLflow search filter), oldest first, each read as
    a RunRecord; runs that are no rows (a sweep's parent, task=compare, a run without results that did not fail) are
    left out with a log line saying why."""
    from mlflow.exceptions import MlflowException

    exp_id = experiment_id(client, name)
    runs, token = [], None
    try:
        while True:
            page = client.search_runs([exp_id], filter_string=filter_string, order_by=["attributes.start_time ASC"],
                                      max_results=1000, page_token=token)
            runs += list(page)
            token = page.token
            if not token:
                break
    except MlflowException as err:
        raise OdinError(f"Could not search experiment {name} with the filter {filter_string!r}: {err.message}") \
            from err
    records = []
    for run in runs:
        task = run.data.tags.get("odin.task")
        record = None if task in NOT_COMPARED else run_record(client, run)
        if record is None or record.status == "no results":
            log.info("Skipped %s (%s): %s", run.info.run_name, run.info.run_id,
                     NOT_COMPARED[task] if record is None else record.reason)
        else:
            records.append(record)
    log.info("Experiment %s: %d runs, %d compared", name, len(runs), len(records))
    return records


def run_record(client, run) -> RunRecord:
    """One tracked run as a RunRecord: its config, its status and, when its results can be found, its scores."""
    tags, run_id = run.data.tags, run.info.run_id
    config_files = {a.path for a in client.list_artifacts(run_id, "config")}
    with tempfile.TemporaryDirectory(prefix="odin-run-") as tmp:
        def artifact(path: str) -> str:
            return Path(client.download_artifacts(run_id, path, tmp)).read_text(encoding="utf-8")

        config = yaml.safe_load(artifact("config/config.yaml")) if "config/config.yaml" in config_files else None
        overrides = yaml.safe_load(artifact("config/overrides.yaml")) if "config/overrides.yaml" in config_files \
            else []
        logged = {a.path for a in client.list_artifacts(run_id)}
        results = json.loads(artifact(RESULTS_FILE)) if RESULTS_FILE in logged else None
    flat = flatten(config) if isinstance(config, dict) else {k: _param_value(v) for k, v in run.data.params.items()}
    # paths.* say where a run read and wrote (logged resolved, so they differ for every run), not what it did.
    flat = {k: v for k, v in flat.items() if not k.startswith("paths.")}
    local_dir = tags.get("odin.run_dir")
    record = RunRecord(path=Path(f"runs:/{run_id}"), config=flat, overrides=[str(o) for o in overrides or []],
                       name=run.info.run_name or "", same_as=(local_dir,) if local_dir else ())
    if results is None and local_dir and (Path(local_dir) / RESULTS_FILE).is_file():
        results = json.loads((Path(local_dir) / RESULTS_FILE).read_text(encoding="utf-8"))
    if run.info.status in ("FAILED", "KILLED"):
        record.status = run.info.status
        record.reason = f"{tags.get('odin.error_type', 'error')}: {tags.get('odin.error', 'the run failed')}"
    elif results is not None:
        score_results(record, results)
    else:
        record.status = "no results"
        record.reason = (f"no {RESULTS_FILE} among its artifacts (task={tags.get('odin.task', '?')}, "
                         f"status {run.info.status})")
    return record


def _param_value(text: str):
    # Params are logged as strings: "16", "0.0002", "null", '["q_proj"]' read back as the values they were.
    try:
        return json.loads(text)
    except ValueError:
        return text


def champion_record(client, model_name: str, alias: str) -> RunRecord:
    """The run behind the registry's `alias` version of `model_name`, read as a RunRecord with the role `alias`."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(model_name, alias)
        run = client.get_run(version.run_id)
    except MlflowException as err:
        raise OdinError(f"compare.reference=champion: the registry at {client.tracking_uri} has no `{alias}` of "
                        f"{model_name} ({err.message}). Register a run first (task=register register.run_dir=<run>), "
                        "or set tracking.registered_model_name / register.alias") from err
    record = run_record(client, run)
    record.role = f"{alias}, version {version.version}"
    if not record.ok:
        raise OdinError(f"compare.reference=champion: {model_name} version {version.version} (run {run.info.run_id})"
                        f" has no per-example results to compare against ({record.status}: {record.reason})")
    return record
