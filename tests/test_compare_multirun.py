"""The issue's check of a sweep, for real: a 2 x 2 multirun of the tiny random model through `python -m odin -m`, one
combination refused (full fine-tuning has no adapter to merge), the end-of-sweep comparison it leaves, and the same
jobs compared again from the MLflow experiment they were tracked in."""

from __future__ import annotations

import csv
import json
import os
import uuid

import pytest

from conftest import TINY_RUN, odin_cli


@pytest.mark.slow  # three tiny trainings and evaluations: over a minute on 2 shared cores
def test_a_2x2_sweep_with_a_failing_combination_compares_and_exits_non_zero(tmp_path):
    sweep = tmp_path / "sweep"
    experiment = f"sweep-{uuid.uuid4().hex[:8]}"
    store = f"tracking.uri={os.environ['MLFLOW_TRACKING_URI']}"  # the tests' throwaway store
    res = odin_cli("-m", *TINY_RUN, "lora=r16,none", "training.merge=false,true", f"hydra.sweep.dir={sweep}", store,
                   f"tracking.experiment_name={experiment}")
    assert res.returncode != 0, res.stderr[-3000:]
    assert "1 of 4 jobs failed" in res.stderr

    jobs = sorted((p for p in sweep.iterdir() if p.is_dir()), key=lambda p: int(p.name.split("_")[0]))
    assert len(jobs) == 4 and all(f"lora={lora}" in j.name and f"training.merge={merge}" in j.name for j, (lora, merge)
                                  in zip(jobs, [("r16", False), ("r16", True), ("none", False), ("none", True)]))
    assert all((j / "evaluation_results.json").is_file() and not (j / "failure.json").exists() for j in jobs[:3])
    failure = json.loads((jobs[3] / "failure.json").read_text())
    assert failure["status"] == "FAILED" and "no adapter to merge" in failure["message"]
    assert not (jobs[3] / "evaluation_results.json").exists()

    rows = list(csv.DictReader(open(sweep / "compare.csv", encoding="utf-8")))
    assert [r["run"] for r in rows] == ["lora=r16 training.merge=False", "lora=r16 training.merge=True",
                                        "lora=none training.merge=False", "lora=none training.merge=True"]
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "FAILED"] and "no adapter to merge" in rows[3]["note"]
    assert all(float(r["relation_f1_low"]) <= float(r["relation_f1"]) <= float(r["relation_f1_high"])
               for r in rows[:3])
    table = [line for line in (sweep / "compare.md").read_text().splitlines() if line.startswith("| ")]
    assert len(table) == 5 and "| FAILED |" in table[4]  # the header, then one row per job
    plots = sorted(p.name for p in sweep.glob("compare_*.png"))
    assert plots == ["compare_lora.png", "compare_training.merge.png"]

    # The same sweep from the tracking store: the three jobs that ran were tracked with their command lines (the
    # refused one never started a run), the sweep's parent run is left out.
    out = tmp_path / "from_mlflow"
    res = odin_cli("task=compare", f"compare.experiment={experiment}", f"tracking.experiment_name={experiment}", store,
                   "compare.reference='" + jobs[0].as_posix() + "'", f"hydra.run.dir={out}")
    assert res.returncode == 0, res.stderr[-3000:]
    tracked = list(csv.DictReader(open(out / "compare.csv", encoding="utf-8")))
    assert [r["run"] for r in tracked] == [r["run"] for r in rows[:3]]
    assert [r["dir"].startswith("runs:/") for r in tracked] == [True] * 3  # the reference is the tracked job 0
    for from_dir, from_store in zip(rows, tracked):  # every config column, score and interval bound the same
        same = [k for k in from_dir if k != "dir" and "vs_reference" not in k]
        assert {k: from_store[k] for k in same} == {k: from_dir[k] for k in same}
    assert tracked[1]["relation_f1_vs_reference"] != ""
    assert "the parent run of a sweep" in res.stderr and "a task=compare run" in res.stderr
    assert "Downloading artifacts" not in res.stderr
