"""One job over two processes on the CPU (torchrun, gloo): the run `torchrun --nproc-per-node 2 -m odin` makes.

tests/distributed_worker.py is `python -m odin` with a record of what each rank trained on, the adapter weights it
ended with and the prompts it generated answers for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from conftest import REPO, TINY_RUN, free_port


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """A pipeline run (prepare -> train -> eval) on 2 ranks, started in an empty folder without hydra.run.dir."""
    cwd = tmp_path_factory.mktemp("ddp")
    store = f"sqlite:///{cwd / 'mlflow.db'}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ODIN_TEST_RECORD": str(cwd / "record"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    # An odd number of test examples: the ranks' shards differ in size.
    args = [*TINY_RUN, "eval.num_samples=5", "tracking=mlflow", f"tracking.uri={store}"]
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
                           str(REPO / "tests" / "distributed_worker.py"), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    records = [torch.load(cwd / "record" / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    return cwd, records, store, done


@pytest.mark.slow  # two gloo processes train and evaluate (the module fixture)
def test_one_run_directory_written_by_rank_0_only(two_ranks):
    cwd, _, _, done = two_ranks
    [run_dir] = [p for p in (cwd / "outputs").glob("*/*") if p.is_dir()]  # no second run directory
    assert sorted(p.name for p in run_dir.iterdir()) == [
        ".hydra", "checkpoint-4", "data", "evaluation_results.json", "final_model", "pipeline.log", "plots",
        "trainer_state.json"]
    assert sorted(p.name for p in (run_dir / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
    # Rank 1 logs warnings only, to stderr: the log file holds rank 0's lines, each stage once.
    lines = (run_dir / "pipeline.log").read_text().splitlines()
    assert sum("Adapter saved to" in line for line in lines) == 1
    assert sum("ranks generate a shard each" in line for line in lines) == 1
    assert done.stderr.count("Adapter saved to") == 1


@pytest.mark.slow  # two gloo processes train and evaluate (the module fixture)
def test_ranks_train_on_different_examples_and_end_with_the_same_weights(two_ranks):
    _, (rank0, rank1), _, _ = two_ranks
    assert len(rank0["batches"]) == len(rank1["batches"]) == 4  # training=smoke: 4 steps of 2 per rank
    seen0 = {ex for batch in rank0["batches"] for ex in batch}
    seen1 = {ex for batch in rank1["batches"] for ex in batch}
    assert len(seen0) == len(seen1) == 8 and not seen0 & seen1
    # Gradients are averaged over the ranks: different data, the same weights after every step.
    assert rank0["weights"].keys() == rank1["weights"].keys() and rank0["weights"]
    for name, weight in rank0["weights"].items():
        assert torch.equal(weight, rank1["weights"][name]), name
    # ... and they did train (LoRA's B matrices start at zero).
    assert any(w.abs().sum() > 0 for n, w in rank0["weights"].items() if "lora_B" in n)


@pytest.mark.slow  # two gloo processes train and evaluate (the module fixture)
def test_evaluation_is_generated_across_ranks_and_covers_every_example_once(two_ranks):
    cwd, (rank0, rank1), _, _ = two_ranks
    [results_file] = (cwd / "outputs").glob("*/*/evaluation_results.json")
    results = json.loads(results_file.read_text())
    data_dir = results_file.parent / "data"
    test = [json.loads(line) for line in (data_dir / "test.jsonl").read_text().splitlines()][:5]
    assert [e["id"] for e in results["examples"]] == [r["id"] for r in test]
    assert (len(rank0["generated"]), len(rank1["generated"])) == (3, 2)
    answers = dict(rank0["generated"] + rank1["generated"])
    assert len(answers) == 5  # each prompt generated once, on one rank
    from odin.format import build_prompt

    for example, record in zip(results["examples"], test):  # gathered back in the examples' order
        assert example["generation"] == answers[build_prompt(record["input"], record["instruction"])]


@pytest.mark.slow  # two gloo processes train and evaluate (the module fixture)
def test_rank_0_alone_tracks_the_run(two_ranks):
    _, _, store, _ = two_ranks
    client = MlflowClient(store)
    [run] = client.search_runs([client.get_experiment_by_name("odin").experiment_id])
    assert run.info.status == "FINISHED" and "entity_f1" in run.data.metrics


def test_a_single_process_names_its_run_directory_with_its_own_time_and_process_id():
    from odin.distributed import short_hostname, start_stamp
    from odin.schema import run_tag, start_time

    host = short_hostname()
    assert run_tag("train", "v16") == f"train_v16_{os.getpid()}@{host}" == f"train_v16_{start_stamp()[1]}"
    assert run_tag("prepare", "dev") == f"prepare_{os.getpid()}@{host}"  # the version only when there is one
    assert start_time("%Y-%m-%d") == start_stamp()[0].strftime("%Y-%m-%d")


def test_the_host_part_of_a_run_directory_is_safe_in_a_path(monkeypatch):
    import socket

    from odin.distributed import short_hostname

    monkeypatch.setattr(socket, "gethostname", lambda: "gpu_node 7.cluster.example.org")
    assert short_hostname() == "gpu-node-7"
    monkeypatch.setattr(socket, "gethostname", lambda: "a" * 60)
    assert short_hostname() == "a" * 24
    monkeypatch.setattr(socket, "gethostname", lambda: "")
    assert short_hostname() == "host"


def test_only_rank_0_writes_the_config_and_the_log_file(monkeypatch):
    from odin.schema import log_file, on_main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert on_main(".hydra", None) is None and on_main("INFO", "WARNING") == "WARNING"
    assert log_file("/runs/x", "train") == os.devnull
    monkeypatch.setenv("RANK", "0")
    assert on_main(".hydra", None) == ".hydra" and log_file("/runs/x", "train") == "/runs/x/train.log"


def test_a_task_that_runs_in_one_process_refuses_a_launcher(make_cfg, monkeypatch, capsys):
    from odin import app
    from odin.app import run

    monkeypatch.setattr(app, "_failures", set())
    cfg = make_cfg(["task=prepare", "tracking=none"])
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert run(cfg) is None
    err = capsys.readouterr().err
    assert "task=prepare runs in one process" in err and "python -m odin task=prepare" in err
    assert "task=pipeline, task=train, task=eval run over several processes" in err
    assert not Path(cfg.paths.output_dir).exists()
