"""task=compare and its statistics, on run directories built from hand-made generations (no model needed)."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from compare_runs import answers, note, write_failure, write_hydra, write_run
from conftest import REPO
from odin.bootstrap import bootstrap_f1, micro_f1, resample_weights
from odin.compare import (ExamplesDiffer, compare_records, compare_runs, differing, example_mismatch, find_job_dirs,
                          flatten, load_run, paired_difference, run_labels)
from odin.compare_report import axis, display_table, markdown, write_outputs
from odin.errors import OdinError
from odin.metrics import Counts, prf

N = 200


# --- the bootstrap ----------------------------------------------------------------------------------------------------


def test_micro_f1_from_counts_agrees_with_metrics():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, size=(200, 3))
    counts[:20] = 0  # nothing gold, nothing predicted
    for tp, fp, fn in counts:
        assert micro_f1(np.array([tp, fp, fn])) == pytest.approx(prf(Counts(tp, fp, fn)).f1)


def test_resample_weights_draw_n_examples_per_resample_seeded():
    w = resample_weights(50, 1000, seed=3)
    assert w.shape == (1000, 50) and (w.sum(axis=1) == 50).all()
    assert (w == resample_weights(50, 1000, seed=3)).all() and not (w == resample_weights(50, 1000, seed=4)).all()
    # each example is drawn once per resample on average
    assert w.mean() == pytest.approx(1.0) and w.mean(axis=0) == pytest.approx(np.ones(50), abs=0.15)


def test_the_interval_of_a_binomial_case_has_the_textbook_width():
    # One gold entity per example; right on 300 of 400 (TP 1), wrong on 100 (FP 1, FN 1): F1 = accuracy = 0.75,
    # whose 95 % interval is 0.75 +- 1.96 * sqrt(0.75 * 0.25 / 400).
    n, right = 400, 300
    counts = np.array([[1, 0, 0]] * right + [[0, 1, 1]] * (n - right), dtype=float)[:, None, :]
    ci = bootstrap_f1(counts, resamples=20000, seed=0, confidence=0.95).interval(0)
    half_width = 1.96 * math.sqrt(0.75 * 0.25 / n)
    assert ci.estimate == 0.75
    assert ci.high - ci.low == pytest.approx(2 * half_width, rel=0.05)
    assert (ci.low + ci.high) / 2 == pytest.approx(0.75, abs=0.005)
    # and at 99 %: 2.576 standard errors
    ci99 = bootstrap_f1(counts, resamples=20000, seed=0, confidence=0.99).interval(0)
    assert ci99.high - ci99.low == pytest.approx(2 * 2.576 * math.sqrt(0.75 * 0.25 / n), rel=0.05)


def test_bootstrap_refuses_too_few_resamples():
    with pytest.raises(ValueError, match="at least 1000"):
        bootstrap_f1(np.zeros((5, 1, 3)), resamples=200, seed=0, confidence=0.95)


# --- paired differences between runs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs on the same 200 notes: base (finds 70 % of symptoms), a copy of it, base plus 6 more notes right, an
    independent system of the same quality, and one right on every note."""
    tmp_path = tmp_path_factory.mktemp("runs")
    base = answers(N, 0.7, seed=1)
    fixed = list(base)
    fixed_ids = [i for i, g in enumerate(base) if "Symptom" not in g][:6]
    for i in fixed_ids:
        fixed[i] = answers(N, 1.0, seed=0)[i]
    made = {
        "base": write_run(tmp_path / "base", base, config={"version": "v13"}),
        "copy": write_run(tmp_path / "copy", list(base), config={"version": "v13b"}),
        "six_more": write_run(tmp_path / "six_more", fixed, config={"version": "v14"}),
        "same_quality": write_run(tmp_path / "same_quality", answers(N, 0.7, seed=2), config={"version": "v15"}),
        "perfect": write_run(tmp_path / "perfect", answers(N, 1.0, seed=0), config={"version": "v16"}),
    }
    return {k: load_run(v) for k, v in made.items()}


def test_identical_systems_differ_by_zero(runs):
    for d in paired_difference(runs["copy"], runs["base"]).values():
        assert d.low <= 0 <= d.high and d.estimate == 0 and not d.excludes_zero()


def test_systems_of_the_same_quality_are_not_told_apart(runs):
    diff = paired_difference(runs["same_quality"], runs["base"])
    assert all(d.low < 0 < d.high for d in diff.values()), diff


def test_a_system_better_on_every_example_is_significantly_better(runs):
    diff = paired_difference(runs["perfect"], runs["base"])
    for d in diff.values():
        assert d.estimate > 0 and d.low > 0 and d.excludes_zero()


def test_pairing_sees_a_small_gain_that_separate_intervals_cannot(runs):
    c = compare_records([runs["base"], runs["six_more"]], reference=0)
    rel_base, rel_fixed = c.intervals[0]["relation_f1"], c.intervals[1]["relation_f1"]
    assert rel_fixed.low < rel_base.high  # the two intervals overlap ...
    d = c.differences[1]["relation_f1"]
    assert d.low > 0 and d.estimate == pytest.approx(rel_fixed.estimate - rel_base.estimate)  # ... the paired one not


def test_runs_scored_on_different_examples_are_not_paired(tmp_path, runs):
    shifted = [note(i)[0] for i in range(50, 50 + N)]
    other = load_run(write_run(tmp_path / "other", answers(N, 0.7, seed=1), records=shifted,
                               config={"version": "v9"}))
    with pytest.raises(ExamplesDiffer, match=r"different examples \(200 examples against 200, 50 and 50 ids"):
        paired_difference(other, runs["base"])
    # same ids, another text: still not the same test set
    edited = [note(i)[0] for i in range(N)]
    edited[7] = {**edited[7], "input": edited[7]["input"] + " Edited."}
    retexted = load_run(write_run(tmp_path / "retexted", answers(N, 0.7, seed=1), records=edited,
                                  config={"version": "v10"}))
    with pytest.raises(ExamplesDiffer, match="example 'ex7' has another input text"):
        paired_difference(retexted, runs["base"])
    c = compare_records([runs["base"], other, runs["perfect"]], reference=0)
    assert set(c.differences) == {2} and "scored on different examples" in c.unpaired[1]
    assert "v9 vs v13: not compared, scored on different examples" in "\n".join(c.sentences())
    assert 1 in c.intervals  # its own interval is still there


def test_example_order_does_not_matter(tmp_path, runs):
    records = [note(i)[0] for i in range(N)]
    gens = answers(N, 1.0, seed=0)
    reversed_run = load_run(write_run(tmp_path / "rev", gens[::-1], records=records[::-1]))
    assert example_mismatch(reversed_run.examples, runs["perfect"].examples) is None
    assert paired_difference(reversed_run, runs["base"]) == paired_difference(runs["perfect"], runs["base"])


def test_a_runs_interval_does_not_depend_on_the_other_runs(runs):
    alone = compare_records([runs["base"]]).intervals[0]
    with_others = compare_records([runs["perfect"], runs["copy"], runs["base"]], reference=1).intervals[2]
    assert alone == with_others
    assert compare_records([runs["base"]], seed=7).intervals[0] != alone  # but on the seed


def test_the_interval_is_around_the_score_the_run_reports(runs):
    run = runs["same_quality"]
    ci = compare_records([run]).intervals[0]
    for m in ("entity_f1", "relation_f1"):
        assert ci[m].estimate == pytest.approx(run.metrics[m])
        assert ci[m].low < run.metrics[m] < ci[m].high


def test_sentences_read_as_the_issue_asks(runs):
    c = compare_records([runs["base"], runs["perfect"]], reference=0)
    d = c.differences[1]["relation_f1"]
    assert f"v16 vs v13: relation F1 {d.estimate:+.3f}, 95% CI [{d.low:+.3f}, {d.high:+.3f}]" in c.sentences()


# --- reading run directories -----------------------------------------------------------------------------------------


def test_flatten_and_only_the_keys_that_differ():
    a = flatten({"lora": {"r": 16, "target_modules": ["q", "v"]}, "seed": 1})
    assert a == {"lora.r": 16, "lora.target_modules": ["q", "v"], "seed": 1}
    b = {**a, "lora.r": 32}
    c = {**a, "lora.target_modules": ["q"], "extra": None}
    assert differing([a, b, c]) == ["lora.r", "lora.target_modules", "extra"]
    assert differing([a, dict(a)]) == []


def test_a_failed_run_is_a_row_with_its_reason(tmp_path):
    ok = write_run(tmp_path / "0_lora=r16", answers(N, 0.7, seed=1), config={"lora": {"r": 16}},
                   overrides=["lora=r16"])
    failed = write_failure(tmp_path / "1_lora=r64", config={"lora": {"r": 64}}, overrides=["lora=r64"])
    empty = tmp_path / "2_lora=r32"
    write_hydra(empty, config={"lora": {"r": 32}}, overrides=["lora=r32"])
    c = compare_runs([ok, failed, empty])
    assert c.labels == ["lora=r16", "lora=r64", "lora=r32"] and c.varying == ["lora.r"] and c.swept == ["lora"]
    assert [r.status for r in c.runs] == ["ok", "FAILED", "no results"]
    rows = c.rows()
    assert rows[1]["note"] == "OutOfMemoryError: CUDA out of memory" and rows[1]["entity_f1"] is None
    assert "neither evaluation_results.json nor failure.json" in rows[2]["note"]
    assert set(c.intervals) == {0}
    headers, cells = display_table(c)
    assert headers[:4] == ["run", "status", "lora.r", "n"] and cells[1][:3] == ["lora=r64", "FAILED", "64"]
    # nothing to score at all: still a table, no plots
    only_failed = compare_runs([failed, empty])
    assert [p.name for p in write_outputs(only_failed, tmp_path / "out")] == ["compare.md", "compare.csv"]


def test_a_failure_wins_over_results_in_the_same_dir(tmp_path):
    d = write_run(tmp_path / "run", answers(10, 0.7, seed=1))
    write_failure(d)
    assert load_run(d).status == "FAILED"


def test_labels_prefer_versions_then_swept_overrides_then_dir_names(tmp_path):
    a = write_run(tmp_path / "a", answers(5, 1, 0), config={"version": "v13"}, overrides=["+experiment=v13"])
    b = write_run(tmp_path / "b", answers(5, 1, 0), config={"version": "v16"}, overrides=["+experiment=v16"])
    assert run_labels([load_run(a), load_run(b)]) == ["v13", "v16"]
    c = write_run(tmp_path / "c", answers(5, 1, 0), overrides=["training.epochs=1", "seed=1"])
    d = write_run(tmp_path / "d", answers(5, 1, 0), overrides=["training.epochs=3", "seed=1"])
    assert run_labels([load_run(c), load_run(d)]) == ["training.epochs=1", "training.epochs=3"]
    e = write_run(tmp_path / "e" / "run", answers(5, 1, 0))
    f = write_run(tmp_path / "f" / "run", answers(5, 1, 0))
    assert run_labels([load_run(e), load_run(c)]) == ["run", "c"]
    assert run_labels([load_run(e), load_run(f)]) == [e.as_posix(), f.as_posix()]


def test_runs_are_rescored_and_a_drift_is_noted(tmp_path):
    d = write_run(tmp_path / "run", answers(N, 0.7, seed=1))
    results = json.loads((d / "evaluation_results.json").read_text())
    true_f1 = results["metrics"]["relation_f1"]
    # An older odin: no definitions, "macro" per example, and a headline scored under other rules.
    results.pop("definitions")
    results["metrics"] = {"entity_f1": results["metrics"]["entity_f1"], "relation_f1": 0.5,
                          "entity_f1_macro": 0.123}
    (d / "evaluation_results.json").write_text(json.dumps(results))
    run = load_run(d)
    assert run.metrics["relation_f1"] == pytest.approx(true_f1)
    assert run.metrics["entity_f1_macro"] != 0.123 and "entity_f1_example_avg" in run.metrics
    assert run.note == f"scored under other rules when written: relation_f1 0.5000 as written, {true_f1:.4f} rescored"


def test_unreadable_results_are_a_row_not_a_crash(tmp_path):
    d = write_run(tmp_path / "run", answers(5, 1, 0))
    (d / "evaluation_results.json").write_text('{"metrics": {}}')
    assert load_run(d).status == "unreadable"
    with pytest.raises(OdinError, match="no .hydra/config.yaml"):
        load_run(tmp_path)


def test_a_sweeps_jobs_in_job_order_without_a_compare_run(tmp_path):
    for n in (10, 2, 0):
        write_run(tmp_path / f"{n}_lora=r{n}", answers(5, 1, 0))
    write_run(tmp_path / "1_data.prepared_dir=outputs" / "x" / "data", answers(5, 1, 0))  # a value with a "/"
    write_hydra(tmp_path / "compare_here", config={"task": "compare"})
    jobs = [j.relative_to(tmp_path).as_posix() for j in find_job_dirs(tmp_path)]
    assert jobs == ["0_lora=r0", "1_data.prepared_dir=outputs/x/data", "2_lora=r2", "10_lora=r10"]


def test_the_reference_joins_the_rows_when_not_among_the_runs(tmp_path, runs):
    c = compare_runs([runs["perfect"].path], reference=runs["base"].path)
    assert c.labels == ["v13", "v16"] and c.reference == 0 and set(c.differences) == {1}
    same = compare_runs([runs["base"].path, runs["perfect"].path], reference=runs["base"].path)
    assert same.reference == 0 and len(same.runs) == 2
    with pytest.raises(OdinError, match="reference run .* has no results"):
        compare_runs([runs["base"].path], reference=write_failure(tmp_path / "failed"))


# --- outputs ---------------------------------------------------------------------------------------------------------


def test_plot_axes_are_numeric_for_numbers_and_categorical_otherwise():
    assert axis(["16", "64", "32", "16"]) == ([16.0, 64.0, 32.0, 16.0], [16.0, 32.0, 64.0], ["16", "32", "64"])
    assert axis(["0.5", "1"])[2] == ["0.5", "1"]
    assert axis(["ade", "mix", "ade"]) == ([0.0, 1.0, 0.0], [0.0, 1.0], ["ade", "mix"])
    # A swept path is labelled by its end (what tells two runs apart), short enough to leave the plot room.
    paths = ["/tmp/runs/f128lr3/final_model", "/tmp/runs/base/final_model"]
    labels = axis(paths)[2]
    assert labels[1] == "/tmp/runs/base/final_model" and labels[0] == "…mp/runs/f128lr3/final_model"
    assert all(len(label) <= 28 for label in labels)


def sweep_2x2(root):
    """A 2 x 2 sweep (lora preset x epochs) whose job lora=r64,training.epochs=3 failed."""
    jobs = []
    for n, (lora, epochs) in enumerate([("r16", 1), ("r16", 3), ("r64", 1), ("r64", 3)]):
        d = root / f"{n}_lora={lora},training.epochs={epochs}"
        config = {"lora": {"r": int(lora[1:]), "alpha": int(lora[1:])}, "training": {"epochs": float(epochs)}}
        overrides = [f"lora={lora}", f"training.epochs={epochs}"]
        if n == 3:
            jobs.append(write_failure(d, config, overrides))
        else:
            found = 0.5 + 0.1 * n
            jobs.append(write_run(d, answers(N, found, seed=n), config=config, overrides=overrides))
    return jobs


def test_outputs_table_csv_markdown_and_plots(tmp_path):
    jobs = sweep_2x2(tmp_path / "sweep")
    c = compare_runs(jobs, reference=jobs[0])
    paths = write_outputs(c, tmp_path / "out", title="2 x 2")
    assert [p.name for p in paths] == ["compare.md", "compare.csv", "compare_lora.png", "compare_training.epochs.png"]
    for png in paths[2:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    rows = list(csv.DictReader(open(tmp_path / "out" / "compare.csv", encoding="utf-8")))
    assert [r["run"] for r in rows] == ["lora=r16 training.epochs=1", "lora=r16 training.epochs=3",
                                        "lora=r64 training.epochs=1", "lora=r64 training.epochs=3"]
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "FAILED"]
    assert [r["lora.r"] for r in rows] == ["16", "16", "64", "64"] and "seed" not in rows[0]
    assert float(rows[1]["relation_f1"]) == pytest.approx(c.runs[1].metrics["relation_f1"])
    assert float(rows[1]["relation_f1_low"]) < float(rows[1]["relation_f1"]) < float(rows[1]["relation_f1_high"])
    assert rows[0]["relation_f1_vs_reference"] == "" and float(rows[2]["relation_f1_vs_reference"]) > 0
    assert {"entity_precision_macro", "relation_recall_example_avg", "examples_per_s"} <= set(rows[0])
    md = (tmp_path / "out" / "compare.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(table) == 5 and "| FAILED |" in table[4] and "OutOfMemoryError" in table[4]
    assert "entity F1 macro" in table[0] and "entity F1 per-example" in table[0]
    assert "lora=r64 training.epochs=1 vs lora=r16 training.epochs=1: relation F1 +" in md
    assert "![compare_lora](compare_lora.png)" in md


def test_the_default_plot_metrics_are_the_schema_default():
    from odin.compare_report import PLOT_METRICS
    from odin.schema import CompareConfig

    assert CompareConfig().plot_metrics == list(PLOT_METRICS)


def test_markdown_escapes_pipes(tmp_path):
    a = write_run(tmp_path / "a", answers(5, 1, 0), config={"description": "a | b"})
    b = write_run(tmp_path / "b", answers(5, 1, 0), config={"description": "c"})
    assert "a \\| b" in markdown(compare_runs([a, b]), "t")


# --- the task ---------------------------------------------------------------------------------------------------------


def test_check_refuses_what_cannot_work(make_cfg, tmp_path):
    from odin.tasks.compare import check

    good = write_run(tmp_path / "good", answers(5, 1, 0))
    failed = write_failure(tmp_path / "failed")
    cases = {
        "task=compare needs the runs to compare": [],
        r"\(compare.runs and compare.sweep are set\)": [f"compare.runs=[{good}]", f"compare.sweep={tmp_path}"],
        "compare.filter=.* selects runs of compare.experiment": [f"compare.runs=[{good}]", "compare.filter=x"],
        r"No MLflow store at sqlite:///.*nowhere.db": ["compare.experiment=odin",
                                                      f"tracking.uri=sqlite:///{tmp_path}/nowhere.db"],
        r"compare.runs\[1\]=.*: no such directory": [f"compare.runs=[{good},{tmp_path}/nope]"],
        r"not a run directory \(no .hydra/config.yaml\)": [f"compare.runs=[{tmp_path}]"],
        "compare.sweep=.*: no such directory": [f"compare.sweep={tmp_path}/nope"],
        "the reference run has no evaluation_results.json .it failed": [f"compare.runs=[{good}]",
                                                                          f"compare.reference={failed}"],
        "compare.resamples=500: use at least 1000": [f"compare.runs=[{good}]", "compare.resamples=500"],
        "compare.confidence=1.5": [f"compare.runs=[{good}]", "compare.confidence=1.5"],
        "unknown entity_f2": [f"compare.runs=[{good}]", "compare.plot_metrics=[entity_f1,entity_f2]"],
    }
    for message, overrides in cases.items():
        with pytest.raises(OdinError, match=message):
            check(make_cfg(["task=compare", *overrides]))
    check(make_cfg(["task=compare", f"compare.runs=[{good}]", f"compare.reference={good}"]))


def test_task_compare_on_a_sweep_from_the_command_line(tmp_path):
    jobs = sweep_2x2(tmp_path / "sweep")
    out = tmp_path / "compare_run"
    proc = subprocess.run(
        [sys.executable, "-m", "odin", "task=compare", f"compare.sweep={tmp_path / 'sweep'}",
         f"compare.reference='{jobs[0]}'", f"hydra.run.dir={out}"],  # quoted: the job dir's name holds '='
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {"compare.md", "compare.csv", "compare_lora.png", "compare_training.epochs.png"} <= \
        {p.name for p in out.iterdir()}
    assert "lora=r64 training.epochs=3" in proc.stdout and "FAILED" in proc.stdout
    assert "vs lora=r16 training.epochs=1: relation F1" in proc.stdout
    rows = list(csv.DictReader(open(out / "compare.csv", encoding="utf-8")))
    assert len(rows) == 4 and sum(r["status"] == "FAILED" for r in rows) == 1
