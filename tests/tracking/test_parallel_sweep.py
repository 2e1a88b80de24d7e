"""Four sweep jobs at once (Hydra's joblib launcher, one process each) logging into one store: a real `mlflow server`
(the documented command, tests/conftest.py) and a SQLite file written by the jobs themselves (odin's default store).
Nothing may be lost or mixed up between the jobs, and the SQLite file must come out intact."""

from __future__ import annotations

import sqlite3

import pytest
from mlflow import MlflowClient

from conftest import TINY_RUN, odin_cli, tracked_runs
from odin.tracking import run_key


@pytest.mark.slow  # four processes each loading torch, transformers and MLflow: 2 to 3 minutes on 2 cores
@pytest.mark.parametrize("store", ["server", "sqlite file"])
def test_four_parallel_jobs_against_one_store_lose_and_corrupt_nothing(store, request, tmp_path):
    if store == "server":
        uri = request.getfixturevalue("mlflow_server")
        db = request.getfixturevalue("mlflow_server_dir") / "store" / "mlflow.db"
    else:
        db = tmp_path / "mlflow.db"
        uri = f"sqlite:///{db}"
    sweep = tmp_path / "sweep"
    res = odin_cli("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=4", "seed=1,2,3,4", *TINY_RUN,
                   "version=vparallel", f"tracking.uri={uri}", f"hydra.sweep.dir={sweep}")
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Joblib.Parallel(n_jobs=4" in res.stderr  # the jobs ran at once, not one after another

    client = MlflowClient(uri)
    (parent,) = tracked_runs(client, odin__sweep=run_key(sweep), odin__task="sweep")
    jobs = tracked_runs(client, odin__sweep=run_key(sweep), odin__task="pipeline")
    assert parent.info.status == "FINISHED" and parent.data.tags["odin.failed_jobs"] == "0"
    assert sorted(r.info.status for r in jobs) == ["FINISHED"] * 4
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {parent.info.run_id}
    assert sorted(r.data.params["seed"] for r in jobs) == ["1", "2", "3", "4"]
    assert len({r.data.tags["odin.run_dir"] for r in jobs}) == 4
    for run in jobs:  # each job's own params, metrics by step and artifacts, none of another job's
        seed = run.data.params["seed"]
        assert run.data.params["training.seed"] == seed and run.data.params["trainer.seed"] == seed
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2, 3, 4]
        assert {"entity_f1", "relation_f1", "grounding_rate"} <= set(run.data.metrics)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config", "data", "plots", "final_model", "evaluation_results.json"} <= artifacts
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {"summary"}

    with sqlite3.connect(db) as connection:
        assert connection.execute("pragma integrity_check").fetchall() == [("ok",)]
