"""Evaluation: error categories and scores on hand-made predictions; evaluate() and task=eval on a tiny adapter."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from conftest import REPO, compose_cfg
from odin.data.prepared import write_split
from odin.errors import OdinError
from odin.evaluation import (ERROR_CATEGORIES, build_results, classify_errors, error_counts, score_generations,
                             summary_tables, write_results)
from odin.extraction import Entity, Extraction, Relation
from odin.format import INSTRUCTION, render, to_record
from tiny_adapter import make_tiny_adapter

D, DIS, S = "Drug", "Disease", "Symptom"


def ex(ents=(), rels=()):
    return Extraction.of([Entity(t, ty) for t, ty in ents], [Relation(*r) for r in rels])


def only(errors, **expected):
    """The categories that are non-empty, with their items, must be exactly `expected`."""
    assert {c: items for c, items in errors.items() if items} == expected


# --- error categories ------------------------------------------------------------------------------------------------


def test_a_perfect_prediction_has_no_errors():
    gold = ex([("aspirin", D), ("rash", S)], [("aspirin", "causes", "rash")])
    only(classify_errors(gold, gold, "aspirin gave a rash"))


def test_each_entity_error_category():
    text = "Enalapril was stopped after acute renal failure; the cough resolved."
    gold = ex([("enalapril", D), ("acute renal failure", DIS), ("cough", S)])
    pred = ex([("Enalapril", D), ("acute  renal failure", S), ("lisinopril", D), ("stopped", S)])
    only(
        classify_errors(gold, pred, text),
        wrong_type=[{"text": "acute  renal failure", "gold_type": DIS, "predicted_type": S}],
        hallucinated_entity=[{"text": "lisinopril", "type": D}],
        extra_entity=[{"text": "stopped", "type": S}],
        missed_entity=[{"text": "cough", "type": S}],
    )


def test_each_relation_error_category():
    gold = ex(rels=[("enalapril", "causes", "cough"), ("aspirin", "treats", "pain"), ("a", "interacts_with", "b")])
    pred = ex(rels=[("cough", "causes", "Enalapril"), ("aspirin", "causes", "pain"), ("a", "interacts_with", "b")])
    only(
        classify_errors(gold, pred, "whatever"),
        reversed_relation=[{"head": "cough", "relation": "causes", "tail": "Enalapril"}],
        extra_relation=[{"head": "aspirin", "relation": "causes", "tail": "pain"}],
        # the reversed one is reported once, as reversed, not also as missed
        missed_relation=[{"head": "aspirin", "relation": "treats", "tail": "pain"}],
    )


def test_an_empty_prediction_misses_everything_and_invents_nothing():
    gold = ex([("aspirin", D)], [("aspirin", "causes", "rash")])
    errors = classify_errors(gold, Extraction(), "aspirin caused a rash")
    only(errors, missed_entity=[{"text": "aspirin", "type": D}],
         missed_relation=[{"head": "aspirin", "relation": "causes", "tail": "rash"}])


# --- scores and counts over a set ------------------------------------------------------------------------------------


def record(text, extraction, rid):
    return {**to_record(text, extraction), "id": rid, "doc_id": rid, "source": "test"}


RECORDS = [
    record("aspirin gave a rash", ex([("aspirin", D), ("rash", S)], [("aspirin", "causes", "rash")]), "a"),
    record("metformin for diabetes", ex([("metformin", D), ("diabetes", DIS)], [("metformin", "treats", "diabetes")]),
           "b"),
]
GENERATIONS = [
    render([Entity("aspirin", D), Entity("rash", S)], [Relation("aspirin", "causes", "rash")]),  # perfect
    "### Entities:\n1. [Drug] metformin\n2. [Drug] insulin\n3. [Gene] INS\n\n### Relations:\n"
    "1. diabetes --[treats]--> metformin",  # hallucinated insulin, reversed relation, missed diabetes, a parse error
]


def test_scores_and_error_counts_over_a_set():
    scores, examples = score_generations(RECORDS, GENERATIONS)
    assert [e["id"] for e in examples] == ["a", "b"]
    assert (scores.entities.counts.tp, scores.entities.counts.fp, scores.entities.counts.fn) == (3, 1, 1)
    assert (scores.relations.counts.tp, scores.relations.counts.fp, scores.relations.counts.fn) == (1, 1, 1)
    assert scores.entities.micro.f1 == pytest.approx(0.75)
    assert scores.relations.example_avg.f1 == pytest.approx(0.5)  # mean of 1.0 and 0.0
    # Over types: Drug P 2/3 R 1 (F1 0.8), Symptom 1.0, Disease missed (0): the macro average differs from the others.
    assert scores.entities.macro.f1 == pytest.approx(0.6) and scores.entities.example_avg.f1 == pytest.approx(0.75)
    assert scores.entities.macro.precision == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert scores.entities.macro.recall == pytest.approx((1 + 1 + 0) / 3)
    assert scores.grounding_rate == pytest.approx(3 / 4)  # insulin is not in the text
    counts = error_counts(examples)
    assert counts == {"hallucinated_entity": 1, "missed_entity": 1, "wrong_type": 0, "extra_entity": 0,
                      "reversed_relation": 1, "extra_relation": 0, "missed_relation": 0, "parse_errors": 1,
                      "examples_with_parse_errors": 1}
    second = examples[1]
    assert second["generation"] == GENERATIONS[1]
    assert second["gold"]["relations"] == [{"head": "metformin", "relation": "treats", "tail": "diabetes"}]
    assert second["prediction"]["entities"] == [{"text": "metformin", "type": D}, {"text": "insulin", "type": D}]
    assert len(second["parse_errors"]) == 1 and "Gene" in second["parse_errors"][0]


def test_post_processing_levers_change_what_is_scored():
    # The second answer's "diabetes --[treats]--> metformin" names an entity the answer does not list.
    scores, examples = score_generations(RECORDS, GENERATIONS, {"drop_unlisted_relations": True})
    assert (scores.relations.counts.tp, scores.relations.counts.fp, scores.relations.counts.fn) == (1, 0, 1)
    assert examples[1]["prediction"]["relations"] == [] and error_counts(examples)["reversed_relation"] == 0
    assert score_generations(RECORDS, GENERATIONS, {"drop_unlisted_relations": False})[0].relations.counts.fp == 1


def test_results_file_has_every_field_and_no_nan(tmp_path):
    scores, examples = score_generations(RECORDS, GENERATIONS)
    results = build_results(scores, examples, model_dir="/m", model_name="tiny", split="test", generation_s=2.0)
    results["scores"]["grounding_rate"] = math.nan
    written = json.loads(write_results(results, tmp_path / "r.json").read_text())
    assert set(written) == {"model_dir", "model", "split", "num_examples", "metrics", "definitions", "scores",
                            "error_counts", "timing", "examples"}
    assert "over types" in written["definitions"]["macro"] and "_example_avg" in written["definitions"]["example_avg"]
    assert written["metrics"]["entity_f1_macro"] == pytest.approx(0.6)
    assert written["metrics"]["entity_f1_example_avg"] == pytest.approx(0.75)
    assert written["scores"]["entities"]["example_avg"]["f1"] == pytest.approx(0.75)
    assert written["timing"] == {"generation_s": 2.0, "examples_per_s": 1.0}
    assert written["scores"]["grounding_rate"] is None
    assert written["metrics"]["relation_f1"] == pytest.approx(0.5)


def test_summary_table_shows_both_tasks_and_the_errors():
    from rich.console import Console

    scores, examples = score_generations(RECORDS, GENERATIONS)
    results = build_results(scores, examples, model_dir=None, model_name="tiny", split="test", generation_s=1.0)
    console = Console(record=True, width=140)
    for table in summary_tables(results):
        console.print(table)
    out = console.export_text()
    assert "Entities" in out and "Relations" in out and "0.750" in out and "hallucinated entity" in out
    labels = [line.split("│")[2].strip() for line in out.splitlines() if line.count("│") > 4]
    assert labels == ["micro", "macro (over types)", "average over examples"] * 2  # entities, then relations
    entity_macro = next(line for line in out.splitlines() if "macro (over types)" in line)
    assert "0.556 │ 0.667 │ 0.600" in entity_macro
    assert "grounding rate 0.750" in out


def test_the_summary_table_is_titled_with_a_short_name():
    from odin.evaluation import short_model_name

    scores, examples = score_generations(RECORDS, GENERATIONS)
    run = "/home/me/odin/outputs/2026-12-01/10-00-00_pipeline_v16_4121@gpu01/final_model"
    results = build_results(scores, examples, model_dir=run, model_name="tiny", split="test", generation_s=1.0)
    assert short_model_name(results) == "10-00-00_pipeline_v16_4121@gpu01/final_model"
    assert summary_tables(results)[0].title == "10-00-00_pipeline_v16_4121@gpu01/final_model on test (2 examples)"
    base = build_results(scores, examples, model_dir=None, model_name="HuggingFaceTB/SmolLM2-135M-Instruct",
                         split="val", generation_s=1.0)
    assert summary_tables(base)[0].title == "HuggingFaceTB/SmolLM2-135M-Instruct (base model) on val (2 examples)"


# --- evaluate() and task=eval on a tiny adapter ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny adapter and a prepared data dir (synthetic notes) for the tiny_random model."""
    from odin.data.prepared import example_to_record
    from odin.data.sources.synthetic import generate as synthetic

    root = tmp_path_factory.mktemp("eval")
    cfg = compose_cfg(["model=tiny_random"], output_dir=root / "train_run")
    adapter = make_tiny_adapter(cfg, root / "train_run" / "final_model")
    data = root / "data"
    examples = [example_to_record(e) for e in synthetic(12, seed=3)]
    for split, recs in (("train", examples[:6]), ("val", examples[6:8]), ("test", examples[8:])):
        write_split(recs, data, split)
    return root, adapter, data


def eval_cfg(run_dir, *extra):
    return compose_cfg(["model=tiny_random", "generation.max_new_tokens=24", "generation.batch_size=3", *extra],
                       output_dir=run_dir)


def test_evaluate_writes_results_for_an_adapter(setup, tmp_path):
    from odin.tasks.evaluate import evaluate

    _, adapter, data = setup
    metrics = evaluate(eval_cfg(tmp_path, "eval.num_samples=3"), data, adapter, tmp_path)
    results = json.loads((tmp_path / "evaluation_results.json").read_text())
    assert results["num_examples"] == 3 and len(results["examples"]) == 3
    assert results["model_dir"] == str(adapter) and results["split"] == "test"
    assert set(results["error_counts"]) >= set(ERROR_CATEGORIES)
    assert results["timing"]["generation_s"] > 0 and results["timing"]["examples_per_s"] > 0
    assert metrics == pytest.approx(results["metrics"], nan_ok=True)
    assert {"entity_f1", "relation_f1", "grounding_rate"} <= set(metrics)
    test_ids = [json.loads(line)["id"] for line in (data / "test.jsonl").read_text().splitlines()]
    assert [e["id"] for e in results["examples"]] == test_ids[:3]  # the first n, in file order
    for e in results["examples"]:
        assert set(e) == {"id", "input", "gold", "generation", "prediction", "parse_errors", "errors"}
        assert e["gold"]["entities"]  # synthetic notes always have entities


def test_evaluate_with_grounded_decoding_and_post_processing(setup, tmp_path):
    from odin.tasks.evaluate import evaluate

    _, adapter, data = setup
    cfg = eval_cfg(tmp_path, "eval.num_samples=3", "generation.grounded=true",
                   "generation.postprocess.drop_unlisted_relations=true", "generation.postprocess.dedupe=true")
    metrics = evaluate(cfg, data, adapter, tmp_path)
    assert metrics["grounding_rate"] == 1.0  # whatever the random adapter writes, its entities are in the text
    for e in json.loads((tmp_path / "evaluation_results.json").read_text())["examples"]:
        listed = {x["text"].lower() for x in e["prediction"]["entities"]}
        assert all({r["head"].lower(), r["tail"].lower()} <= listed for r in e["prediction"]["relations"])


def test_evaluate_the_base_model_without_an_adapter(setup, tmp_path):
    from odin.tasks.evaluate import evaluate, resolve_model_dir

    _, _, data = setup
    cfg = eval_cfg(tmp_path, "eval.base_model=true", "eval.split=val")
    assert resolve_model_dir(cfg, tmp_path) is None
    evaluate(cfg, data, None, tmp_path)
    results = json.loads((tmp_path / "evaluation_results.json").read_text())
    assert results["model_dir"] is None and results["split"] == "val" and results["num_examples"] == 2


def test_which_model_task_eval_picks(tmp_path):
    from odin.tasks.evaluate import resolve_model_dir

    with pytest.raises(OdinError, match="eval.model_dir=<a run>/final_model, or eval.base_model=true"):
        resolve_model_dir(eval_cfg(tmp_path), tmp_path)
    (tmp_path / "final_model").mkdir()
    assert resolve_model_dir(eval_cfg(tmp_path), tmp_path) == tmp_path / "final_model"
    assert resolve_model_dir(eval_cfg(tmp_path, "eval.model_dir=/x/y"), tmp_path).as_posix() == "/x/y"



def test_eval_model_settings_are_checked_before_any_work(tmp_path):
    from odin.tasks.evaluate import check

    with pytest.raises(OdinError, match="drop one of them"):
        check(eval_cfg(tmp_path, "eval.model_dir=/x/y", "eval.base_model=true"))
    with pytest.raises(OdinError, match="task=eval needs a model"):
        check(eval_cfg(tmp_path, "task=eval"))
    with pytest.raises(OdinError, match="Model directory not found: /x/y"):
        check(eval_cfg(tmp_path, "task=eval", "eval.model_dir=/x/y"))


def test_eval_errors_a_user_can_act_on(setup, tmp_path):
    from odin.tasks.evaluate import evaluate

    _, adapter, data = setup
    with pytest.raises(OdinError, match=r"eval.split=dev: no dev.jsonl .*\(it has: test, train, val\)"):
        evaluate(eval_cfg(tmp_path, "eval.split=dev"), data, adapter, tmp_path)
    empty = tmp_path / "empty_data"
    write_split([], empty, "test")
    with pytest.raises(OdinError, match="test split .* has no examples"):
        evaluate(eval_cfg(tmp_path), empty, adapter, tmp_path)
    with pytest.raises(OdinError, match="Model directory not found"):
        evaluate(eval_cfg(tmp_path), data, tmp_path / "nope", tmp_path)
    with pytest.raises(OdinError, match="neither adapter_config.json"):
        evaluate(eval_cfg(tmp_path), data, tmp_path, tmp_path)
    with pytest.raises(OdinError, match="num_samples=0"):
        evaluate(eval_cfg(tmp_path, "eval.num_samples=0"), data, adapter, tmp_path)


def test_an_adapter_for_another_base_is_refused_clearly(setup, tmp_path):
    from odin.tasks.evaluate import evaluate

    _, adapter, data = setup
    # Same tokenizer, other shape: the adapter's weights cannot fit.
    cfg = eval_cfg(tmp_path, "model.random.hidden_size=32", "model.random.intermediate_size=64")
    with pytest.raises(OdinError, match="does not fit model=tiny-random-llama"):
        evaluate(cfg, data, adapter, tmp_path)


def test_task_eval_from_the_command_line(setup, tmp_path):
    _, adapter, data = setup
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "odin", "task=eval", "model=tiny_random", f"eval.model_dir={adapter}",
         f"data.prepared_dir={data}", "eval.num_samples=2", "generation.max_new_tokens=16", "tracking=none",
         f"hydra.run.dir={run_dir}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((run_dir / "evaluation_results.json").read_text())
    assert results["num_examples"] == 2
    assert "Relations" in proc.stdout and "Errors" in proc.stdout  # the summary table
    assert (run_dir / "eval.log").exists()


def test_task_eval_without_a_model_says_what_to_pass(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "odin", "task=eval", "model=tiny_random", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1
    assert "eval.base_model=true" in proc.stderr


@pytest.mark.slow
def test_smollm2_zero_shot_on_synthetic_notes(tmp_path):
    """The real default model, no adapter, through the same code a user runs: valid results of the right shape."""
    from odin.data.prepared import example_to_record
    from odin.data.sources.synthetic import generate as synthetic
    from odin.tasks.evaluate import evaluate

    data = tmp_path / "data"
    write_split([example_to_record(e) for e in synthetic(4, seed=1)], data, "test")
    cfg = compose_cfg(["model=smollm2_135m", "eval.base_model=true", "generation.max_new_tokens=96",
                       "generation.batch_size=4"], output_dir=tmp_path)
    metrics = evaluate(cfg, data, None, tmp_path)
    results = json.loads((tmp_path / "evaluation_results.json").read_text())
    assert results["num_examples"] == 4
    assert all(isinstance(e["generation"], str) and e["generation"] for e in results["examples"])
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("entity_f1", "relation_f1"))
    assert INSTRUCTION not in "".join(e["generation"] for e in results["examples"])  # the prompt is not echoed
