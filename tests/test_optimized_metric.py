"""The metric a sweep optimizes is scored on val, never on test (`optimized_metric: val_relation_f1`)."""

from __future__ import annotations

import json

import pytest

from conftest import TINY_RUN, compose_cfg
from odin.errors import OdinError
from odin.format import INSTRUCTION, render


def alpaca_file(path, examples):
    path.write_text("".join(json.dumps({"instruction": INSTRUCTION, "input": text, "output": render(*gold)}) + "\n"
                            for text, gold in examples))
    return path


def test_a_pipeline_returns_the_val_metric_and_reports_test_too(tmp_path):
    """Val answers are empty ("none found"), test answers are not: a model that finds nothing scores relation F1 1
    on val and 0 on test, so the returned value says which split it came from."""
    from odin.app import run
    from odin.data.sources.synthetic import generate

    notes = [(e.text, (list(e.extraction.entities), list(e.extraction.relations))) for e in generate(12, seed=5)]
    assert all(gold[1] for _, gold in notes)  # every synthetic note has a relation to miss
    empty = [(f"Patient {i} was seen today and sent home.", ([], [])) for i in range(4)]
    files = [f"data.sources.files.{split}_file={alpaca_file(tmp_path / f'{split}.jsonl', examples)}"
             for split, examples in (("train", notes[:8]), ("val", empty), ("test", notes[8:]))]
    cfg = compose_cfg([*TINY_RUN, "data=files", *files, "tracking=none", "optimized_metric=val_relation_f1"],
                      output_dir=tmp_path / "run")
    value = run(cfg)

    test = json.loads((tmp_path / "run" / "evaluation_results.json").read_text())
    val = json.loads((tmp_path / "run" / "val" / "evaluation_results.json").read_text())
    assert test["split"] == "test" and val["split"] == "val" and val["num_examples"] == 4
    assert value == val["metrics"]["relation_f1"] == 1.0
    assert test["metrics"]["relation_f1"] == 0.0 != value
    assert (tmp_path / "run" / "val" / "plots").is_dir()


def test_optimized_metric_names_a_metric_and_its_split(tmp_path):
    from odin.tasks.evaluate import check_optimized_metric, optimized_split

    def cfg(*overrides):
        return compose_cfg(list(overrides), output_dir=tmp_path)

    assert optimized_split(cfg()) == "test" and optimized_split(cfg("optimized_metric=val_entity_f1")) == "val"
    check_optimized_metric(cfg("optimized_metric=val_relation_f1_macro"))
    with pytest.raises(OdinError, match="optimized_metric=val_relation_F1: not a metric"):
        check_optimized_metric(cfg("optimized_metric=val_relation_F1"))
    # A single evaluation of any split is fine whatever optimized_metric says: only a sweep reads it back.
    check_optimized_metric(cfg("task=eval", "optimized_metric=val_relation_f1"))
    check_optimized_metric(cfg("task=eval", "eval.split=val"))


def test_a_sweep_of_evaluations_must_score_the_split_it_optimizes(tmp_path, monkeypatch):
    from odin import app
    from odin.tasks.evaluate import check_optimized_metric

    def cfg(*overrides):
        return compose_cfg(list(overrides), output_dir=tmp_path)

    monkeypatch.setattr(app, "in_multirun", lambda: True)  # as in a job of `python -m odin -m ...`
    with pytest.raises(OdinError, match="task=eval scores eval.split=test: a sweep would optimize a metric this job "
                                        "does not return; set eval.split=val"):
        check_optimized_metric(cfg("task=eval", "optimized_metric=val_relation_f1"))
    with pytest.raises(OdinError, match="set eval.split=test"):
        check_optimized_metric(cfg("task=eval", "eval.split=val"))
    check_optimized_metric(cfg("task=eval", "eval.split=val", "optimized_metric=val_relation_f1"))


def test_a_val_evaluation_is_tracked_beside_the_test_one(tmp_path):
    """Val metrics are logged with their prefix and their files under val/, so they never overwrite the test ones."""
    from odin.evaluation import build_results, score_generations
    from odin.extraction import Extraction
    from odin.format import to_record
    from odin.tracking import Tracker

    class Recording(Tracker):
        enabled = True

        def __init__(self):
            self.metrics, self.artifacts = {}, []

        def log_metrics(self, metrics, step=None):
            self.metrics.update(metrics)

        def log_artifact(self, path, artifact_path=None):
            self.artifacts.append((path.name, artifact_path))

    record = to_record("Rash after amoxicillin.", Extraction())
    scores, examples = score_generations([record], [render([], [])])
    tracker = Recording()
    for split in ("val", "test"):
        results = build_results(scores, examples, model_dir=None, model_name="m", split=split, generation_s=1.0)
        tracker.log_evaluation(results, tmp_path / "evaluation_results.json", [tmp_path / "f1.png"])
    assert tracker.metrics["val_relation_f1"] == tracker.metrics["relation_f1"] == 1.0
    assert tracker.artifacts == [("evaluation_results.json", "val"), ("f1.png", "val/plots"),
                                 ("evaluation_results.json", None), ("f1.png", "plots")]
