"""tracking=mlflow end to end against a real `mlflow server` on 127.0.0.1 (the `mlflow_server` fixture): a tiny
train + eval through the CLI read back with MlflowClient; a failing sweep job; an unreachable server; the registry's
champion; backfill; a planted secret that must appear nowhere."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

from pathlib import Path

import pytest
from mlflow import MlflowClient
from omegaconf import OmegaConf

from conftest import REPO, TINY_RUN, compose_cfg, free_port, odin_cli, tracked_runs
from odin.tracking import flatten, run_key

PLANTED = "hf_PlantedSecretForTheTests0123456789abcdefXYZ"


@pytest.fixture(scope="module")
def tracked(mlflow_server, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tracked") / "run"
    # training.seed differs from seed: both are params (the trainer's own as trainer.seed), which once collided.
    res = odin_cli(*TINY_RUN, "version=vtest", "seed=42", "training.seed=7", f"tracking.uri={mlflow_server}",
                   f"hydra.run.dir={run_dir}", "register.auto=true", "tracking.registered_model_name=odin-auto",
                   # a tiny run lasts a few seconds on an idle machine: sample often enough to see samples
                   "tracking.system_metrics_interval_s=0.5", env={"HF_TOKEN": PLANTED})
    assert res.returncode == 0, res.stderr[-4000:]
    client = MlflowClient(mlflow_server)
    (run,) = tracked_runs(client, odin__run_key=run_key(run_dir))
    return run_dir, client, run, res


def test_a_tracked_run_has_its_params_metrics_by_step_artifacts_and_status(tracked):
    run_dir, client, run, _ = tracked
    assert run.info.status == "FINISHED" and run.info.run_name == "vtest-pipeline"
    tags = run.data.tags
    assert tags["odin.version"] == "vtest" and tags["odin.task"] == "pipeline" and tags["odin.backend"] == "hf"
    assert tags["odin.model"] == "tiny-random-llama" and tags["odin.data_sources"] == "synthetic"
    assert len(tags["mlflow.source.git.commit"]) == 40 and tags["odin.git_dirty"] in ("true", "false")
    assert tags["odin.host"] and tags["odin.test_set"]

    params = run.data.params
    assert params["training.max_steps"] == "4" and params["lora.r"] == "16" and params["model.source"] == "random"
    stats = json.loads((run_dir / "data" / "stats.json").read_text())
    assert params["dataset.train.examples"] == str(stats["splits"]["train"]["examples"])
    assert params["dataset.test.input_tokens"] == str(stats["splits"]["test"]["input_tokens"]["total"])

    results = json.loads((run_dir / "evaluation_results.json").read_text())
    metrics = run.data.metrics
    assert metrics["entity_f1"] == pytest.approx(results["metrics"]["entity_f1"])
    assert metrics["relation_fn"] == results["scores"]["relations"]["counts"]["fn"]
    for name in ("entity_precision", "entity_recall", "entity_f1_macro", "relation_f1", "grounding_rate",
                 "examples_per_s", "entity_tp", "entity_fp", "entity_fn"):
        assert name in metrics, name
    assert any(k.startswith("entity_f1.") for k in metrics)
    # Training metrics arrive by step through transformers' MLflowCallback (odin adds tokens/s to its logs).
    loss = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in loss] == [1, 2, 3, 4]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "learning_rate")] == [1, 2, 3, 4]
    assert len(client.get_metric_history(run.info.run_id, "tokens_per_s")) == 4
    assert client.get_metric_history(run.info.run_id, "eval_loss")

    def paths(folder=""):
        return {a.path for a in client.list_artifacts(run.info.run_id, folder)}

    assert {"config", "data", "plots", "final_model", "evaluation_results.json"} <= paths()
    assert paths("plots") == {"plots/per_type.png", "plots/errors.png"}
    assert "final_model/adapter_config.json" in paths("final_model")
    assert {"data/README.md", "data/stats.json"} <= paths("data")


def test_every_config_key_and_the_trainer_s_arguments_are_params_without_a_collision(tracked):
    run_dir, _, run, res = tracked
    params = run.data.params
    config = OmegaConf.to_container(OmegaConf.load(run_dir / ".hydra" / "config.yaml"), resolve=False)
    missing = set(flatten(config)) - set(params)
    assert not missing, sorted(missing)
    assert params["seed"] == "42" and params["training.seed"] == "7" and params["trainer.seed"] == "7"
    assert params["trainer.learning_rate"] == params["training.learning_rate"]
    assert params["trainer.hub_token"] in ("<HUB_TOKEN>", "null")  # TrainingArguments.to_dict() masks tokens
    log = res.stderr + (run_dir / "pipeline.log").read_text()
    assert "Changing param values is not allowed" not in log and "could not log params" not in log


def test_system_metrics_are_sampled_and_odin_says_which(tracked):
    _, client, run, res = tracked
    for name in ("system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"):
        assert client.get_metric_history(run.info.run_id, name), name
    assert "System metrics every 0.5 s: CPU, memory, disk, network; " in res.stderr
    if not any(k.startswith("system/gpu_") for k in run.data.metrics):  # a CPU machine: silent, and said once
        assert "no GPU metrics (" in res.stderr


def test_register_auto_registers_the_pipeline_s_model(tracked):
    _, client, run, res = tracked
    version = client.get_model_version_by_alias("odin-auto", "champion")
    assert version.run_id == run.info.run_id and version.source == f"runs:/{run.info.run_id}/final_model"
    assert "is the first version with the alias" in version.tags["odin.champion_decision"]


def assert_nowhere(secret: str, *folders: Path) -> None:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_a_planted_token_appears_in_no_param_tag_artifact_log_or_store(tracked, mlflow_server_dir, tmp_path):
    # HF_TOKEN was set for the whole train + eval (huggingface_hub, transformers and the trainer all read it).
    run_dir, client, run, res = tracked
    assert PLANTED not in json.dumps(run.data.params) + json.dumps(run.data.tags)
    client.download_artifacts(run.info.run_id, "", str(tmp_path))
    # The artifacts as logged, the run dir (.hydra/, logs, data, adapter, results), and the server's own store.
    assert_nowhere(PLANTED, tmp_path, run_dir, mlflow_server_dir)
    assert PLANTED not in res.stdout + res.stderr


def test_a_token_in_a_config_value_is_refused_naming_the_key_and_written_nowhere(mlflow_server, tmp_path):
    # Through an env interpolation (the saved config keeps `${oc.env:HF_TOKEN}`; odin would resolve it), in a sweep,
    # whose job dir is kept with its record of the failure.
    sweep = tmp_path / "sweep"
    res = odin_cli("-m", *TINY_RUN, "description=${oc.env:HF_TOKEN}", f"tracking.uri={mlflow_server}",
                   f"hydra.sweep.dir={sweep}", env={"HF_TOKEN": PLANTED}, timeout=300)
    assert res.returncode == 1
    assert "description holds the value of $HF_TOKEN" in res.stderr and "no secret through its config" in res.stderr
    (job,) = [p for p in sweep.iterdir() if p.is_dir()]
    assert (job / ".hydra" / "config.yaml").exists() and "HF_TOKEN" in (job / "failure.json").read_text()
    assert not (job / "data").exists()
    # Typed in: a single run refuses it and keeps none of what Hydra saved of it.
    run_dir = tmp_path / "run"
    typed = odin_cli(*TINY_RUN, f"description=notes {PLANTED}", f"tracking.uri={mlflow_server}",
                     f"hydra.run.dir={run_dir}", timeout=300)
    assert typed.returncode == 1 and "description holds a Hugging Face token (hf_...)" in typed.stderr
    assert PLANTED not in res.stdout + res.stderr + typed.stdout + typed.stderr
    assert_nowhere(PLANTED, sweep, tmp_path)
    client = MlflowClient(mlflow_server)
    for refused in (job, run_dir):
        assert not tracked_runs(client, odin__run_key=run_key(refused))


@pytest.mark.slow  # a tracked two-job sweep
def test_a_failing_job_is_failed_its_sweep_goes_on_and_the_exit_status_says_so(mlflow_server, tmp_path):
    sweep = tmp_path / "sweep"
    # max_tokens=5 leaves no training example: the job fails inside the task, after its tracked run started.
    res = odin_cli("-m", *TINY_RUN, "version=vsweep", "data.max_tokens=5,200", f"tracking.uri={mlflow_server}",
                   f"hydra.sweep.dir={sweep}")
    assert res.returncode == 1, res.stderr[-3000:]
    failed, ok = sorted(p for p in sweep.iterdir() if p.is_dir())
    failure = json.loads((failed / "failure.json").read_text())
    assert failure["status"] == "FAILED" and "no training examples" in failure["message"]
    assert (ok / "evaluation_results.json").exists() and not (ok / "failure.json").exists()
    assert "1 of 2 jobs failed" in res.stderr

    client = MlflowClient(mlflow_server)
    jobs = tracked_runs(client, odin__sweep=run_key(sweep), odin__task="pipeline")
    assert sorted(r.info.status for r in jobs) == ["FAILED", "FINISHED"]
    (parent,) = tracked_runs(client, odin__sweep=run_key(sweep), odin__task="sweep")
    assert parent.info.status == "FAILED" and parent.data.tags["odin.failed_jobs"] == "1"
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {parent.info.run_id}
    failed_run = next(r for r in jobs if r.info.status == "FAILED")
    assert "no training examples" in failed_run.data.tags["odin.error"]


@pytest.mark.slow  # a tracked two-job sweep
def test_a_sweep_on_the_default_store_gets_its_parent_run(tmp_path):
    """No tracking.uri on the command line: the store comes from the config's default (MLFLOW_TRACKING_URI, else a
    file under paths.root_dir, which reads Hydra's runtime), which the end-of-sweep callback must resolve too."""
    store = tmp_path / "mlflow.db"
    sweep = tmp_path / "sweep"
    res = odin_cli("-m", "task=prepare", "data.sources.synthetic.num_examples=20,30", f"hydra.sweep.dir={sweep}",
                   env={"MLFLOW_TRACKING_URI": f"sqlite:///{store}"}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "HydraConfig was not set" not in res.stderr
    client = MlflowClient(f"sqlite:///{store}")
    jobs = tracked_runs(client, odin__sweep=run_key(sweep), odin__task="prepare")
    (parent,) = tracked_runs(client, odin__sweep=run_key(sweep), odin__task="sweep")
    assert len(jobs) == 2 and {r.data.tags["mlflow.parentRunId"] for r in jobs} == {parent.info.run_id}
    assert parent.info.status == "FINISHED"


def test_an_unreachable_server_stops_the_run_before_any_work_and_keeps_the_run_dir(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run_dir = tmp_path / "run"
    res = odin_cli(*TINY_RUN, f"tracking.uri={uri}", f"hydra.run.dir={run_dir}", timeout=120)
    assert res.returncode == 1
    assert f"The MLflow tracking server at {uri} is not reachable" in res.stderr
    assert "mlflow server --host" in res.stderr and "tracking=none" in res.stderr
    assert (run_dir / ".hydra" / "config.yaml").exists() and (run_dir / "failure.json").exists()
    assert not (run_dir / "data").exists() and not list(run_dir.glob("checkpoint-*"))


def test_register_moves_the_champion_only_to_a_better_version_on_the_same_test_set(mlflow_server, tmp_path):
    from odin.tracking.registry import register

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("odin").experiment_id
    adapter = tmp_path / "final_model"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    name = f"odin-test-{uuid.uuid4().hex[:8]}"

    def run(relation_f1, entity_f1, test_set="same"):
        r = client.create_run(experiment, tags={"odin.test_set": test_set, "odin.model_path": str(adapter)})
        client.log_metric(r.info.run_id, "relation_f1", relation_f1)
        client.log_metric(r.info.run_id, "entity_f1", entity_f1)
        client.set_terminated(r.info.run_id)
        return client.get_run(r.info.run_id)

    def champion():
        return client.get_model_version_by_alias(name, "champion").version

    kwargs = {"alias": "champion", "rule": ["relation_f1", "entity_f1"], "force": False}
    assert register(client, name, run(0.70, 0.80), **kwargs)[0] == "1" and champion() == "1"
    version, decision = register(client, name, run(0.75, 0.70), **kwargs)
    assert decision.promote and champion() == "2" and "relation_f1 0.7500 vs 0.7000" in decision.reason
    version, decision = register(client, name, run(0.72, 0.95), **kwargs)  # better entities, worse relations
    assert not decision.promote and champion() == "2"
    version, decision = register(client, name, run(0.75, 0.71), **kwargs)  # a tie on relations: entities decide
    assert decision.promote and champion() == "4"
    version, decision = register(client, name, run(0.99, 0.99, test_set="other"), **kwargs)
    assert not decision.promote and champion() == "4" and "different test sets" in decision.reason
    version, decision = register(client, name, run(0.10, 0.10), **{**kwargs, "force": True})
    assert decision.promote and champion() == version
    # Every decision is kept on its version.
    assert "different test sets" in client.get_model_version(name, "5").tags["odin.champion_decision"]


def test_task_register_registers_a_run_directory_and_makes_it_champion(tracked, mlflow_server, tmp_path):
    run_dir, client, run, _ = tracked
    name = f"odin-cli-{uuid.uuid4().hex[:8]}"
    res = odin_cli("task=register", f"register.run_dir={run_dir}", f"tracking.uri={mlflow_server}",
                   f"tracking.registered_model_name={name}", f"hydra.run.dir={tmp_path / 'register'}", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    version = client.get_model_version_by_alias(name, "champion")
    assert version.run_id == run.info.run_id and version.source.endswith("final_model")
    assert version.tags["odin.version"] == "vtest" and float(version.tags["relation_f1"]) >= 0


def test_backfill_logs_what_is_missing_once(tracked, tmp_path):
    run_dir = tracked[0]
    outputs = tmp_path / "outputs"
    old = outputs / "2026-11-20" / "10-00-00_pipeline_vtest_4242"
    shutil.copytree(run_dir, old)
    failed = outputs / "2026-11-20" / "11-30-00_train_4243"
    shutil.copytree(run_dir / ".hydra", failed / ".hydra")
    (failed / "failure.json").write_text(json.dumps({"status": "FAILED", "error_type": "OdinError",
                                                     "message": "out of memory", "time": "2026-11-20T11:31:00"}))
    broken = outputs / "2026-11-20" / "12-00-00_eval_4244"
    (broken / ".hydra").mkdir(parents=True)
    (broken / ".hydra" / "config.yaml").write_text("{not yaml: [")
    seed_era = tmp_path / "experiments" / "medical_ner_re_v13"
    seed_era.mkdir(parents=True)
    scores = {"micro": {"f1": 0.918, "precision": 0.93, "recall": 0.906, "tp": 900, "fp": 68, "fn": 93},
              "macro": {"f1": 0.91}}
    (seed_era / "evaluation_results.json").write_text(json.dumps(
        {"entity_metrics": scores, "relation_metrics": {**scores, "micro": {**scores["micro"], "f1": 0.842}}}))
    shutil.copy(run_dir / "trainer_state.json", seed_era / "trainer_state.json")

    store = f"sqlite:///{tmp_path / 'backfill.db'}"
    args = ("task=backfill", f"backfill.dirs=[{outputs},{tmp_path / 'experiments'}]", f"tracking.uri={store}",
            f"hydra.run.dir={tmp_path / 'backfill-run'}")
    first = odin_cli(*args, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "3 runs logged, 0 already tracked, 1 directories skipped" in first.stderr
    assert "12-00-00_eval_4244" in first.stderr and "not a readable config" in first.stderr
    second = odin_cli(*[a.replace("backfill-run", "backfill-run2") for a in args], timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "0 runs logged, 3 already tracked, 1 directories skipped" in second.stderr

    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("odin").experiment_id])
    assert len(runs) == 3
    by_key = {r.data.tags["odin.run_key"]: r for r in runs}
    pipeline = by_key["outputs/2026-11-20/10-00-00_pipeline_vtest_4242"]
    assert pipeline.info.status == "FINISHED" and pipeline.info.run_name == "vtest-pipeline"
    assert pipeline.info.start_time == int(dt.datetime(2026, 11, 20, 10, 0, 0).timestamp() * 1000)
    assert [m.step for m in client.get_metric_history(pipeline.info.run_id, "loss")] == [1, 2, 3, 4]
    assert "entity_f1" in pipeline.data.metrics and pipeline.data.params["training.max_steps"] == "4"
    assert by_key["outputs/2026-11-20/11-30-00_train_4243"].info.status == "FAILED"
    seed = next(r for k, r in by_key.items() if k.endswith("#evaluation_results.json"))
    assert seed.data.tags["odin.version"] == "v13" and seed.data.metrics["relation_f1"] == pytest.approx(0.842)
    assert seed.data.metrics["entity_f1_example_avg"] == pytest.approx(0.91)


@pytest.mark.slow  # trains until the interrupt arrives
def test_ctrl_c_marks_the_tracked_run_killed_and_keeps_the_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "odin", *TINY_RUN, "training.max_steps=2000",
                             f"tracking.uri={store}", f"hydra.run.dir={run_dir}"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    log = run_dir / "pipeline.log"
    deadline = time.monotonic() + 300
    while not (log.is_file() and "step 1/2000" in log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert json.loads((run_dir / "failure.json").read_text())["status"] == "KILLED"
    assert list(run_dir.glob("checkpoint-*")) or (run_dir / "data" / "train.jsonl").exists()
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("odin").experiment_id])
    assert run.info.status == "KILLED" and run.data.tags["odin.error_type"] == "KeyboardInterrupt"


def test_a_crash_inside_a_task_marks_the_tracked_run_failed_and_keeps_the_run_dir(tmp_path, monkeypatch):
    # odin.app.run in this process, as odin/__main__.py calls it; training raises what an OOM raises: a RuntimeError.
    from odin import app
    from odin.modeling import sft

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")

    monkeypatch.setattr(sft, "fit", out_of_memory)
    monkeypatch.setattr(app, "_failures", set())
    run_dir, store = tmp_path / "run", f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = compose_cfg([*TINY_RUN, "version=vcrash", f"tracking.uri={store}"], output_dir=run_dir)
    with pytest.raises(RuntimeError, match="out of memory"):
        app.run(cfg)  # a single run shows the traceback, as Python does

    failure = json.loads((run_dir / "failure.json").read_text())
    assert failure["status"] == "FAILED" and failure["error_type"] == "RuntimeError"
    assert "out_of_memory" in failure["traceback"] and app.exit_status() == 1
    assert (run_dir / "data" / "train.jsonl").exists() and (run_dir / "data" / "stats.json").exists()
    client = MlflowClient(store)
    (run,) = tracked_runs(client, odin__run_key=run_key(run_dir))
    assert run.info.status == "FAILED" and run.info.end_time is not None
    assert run.data.tags["odin.error_type"] == "RuntimeError" and "out of memory" in run.data.tags["odin.error"]
    assert run.data.params["dataset.train.examples"]  # what was logged before the crash stays
