"""task=predict: inputs from text, file and stdin; entity offsets; errors a user can act on."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import REPO, compose_cfg
from odin.errors import OdinError
from odin.format import find_spans
from odin.tasks.predict import (check, chunks, parse_inputs, predict, predict_stream, prediction_record, read_inputs,
                                resolve_model_dir)
from tiny_adapter import make_tiny_adapter

NOTE = "Enalapril was stopped after acute\nrenal failure. ENALAPRIL is now avoided; no rash."


# --- offsets -------------------------------------------------------------------------------------------------------


def test_spans_are_case_insensitive_and_fold_whitespace():
    assert find_spans("enalapril", NOTE) == [(0, 9), (49, 58)]
    assert NOTE[49:58] == "ENALAPRIL"
    (span,) = find_spans("acute renal failure", NOTE)
    assert NOTE[span[0]:span[1]] == "acute\nrenal failure"
    assert find_spans("cough", NOTE) == []
    assert find_spans("  ", NOTE) == []
    assert find_spans("a.b", "axb a.b") == [(4, 7)]  # the entity text is literal, not a pattern


def test_prediction_record_gives_offsets_of_the_first_and_all_occurrences():
    generation = ("### Entities:\n1. [Drug] enalapril\n2. [Disease] acute renal failure\n3. [Symptom] cough\n\n"
                  "### Relations:\n1. enalapril --[causes]--> acute renal failure\n2. bad line")
    rec = prediction_record(NOTE, generation)
    drug, disease, cough = rec["entities"]
    assert (drug["start"], drug["end"], drug["spans"]) == (0, 9, [[0, 9], [49, 58]])
    assert NOTE[disease["start"]:disease["end"]].split() == ["acute", "renal", "failure"]
    assert disease["type"] == "Disease"
    assert cough == {"text": "cough", "type": "Symptom", "start": None, "end": None, "spans": []}
    assert rec["relations"] == [{"head": "enalapril", "relation": "causes", "tail": "acute renal failure"}]
    assert len(rec["parse_errors"]) == 1 and rec["text"] == NOTE and rec["generation"] == generation


def test_prediction_record_applies_the_post_processing_levers():
    generation = "### Entities:\n1. [Drug] ENALAPRIL\n2. [Symptom] acuterenal failure\n\n### Relations:\n" \
                 "1. enalapril --[causes]--> acuterenal failure\n2. enalapril --[causes]--> cough"
    rec = prediction_record(NOTE, generation, {"snap_to_text": True, "dedupe": False, "drop_unlisted_relations": True})
    assert [e["text"] for e in rec["entities"]] == ["Enalapril", "acute renal failure"]
    assert rec["entities"][1]["start"] is not None  # found in the text once written as the text writes it
    assert rec["relations"] == [{"head": "Enalapril", "relation": "causes", "tail": "acute renal failure"}]


# --- inputs --------------------------------------------------------------------------------------------------------


def test_inputs_one_text_per_line_or_jsonl():
    assert parse_inputs("first note\n\n  second note  \n", "f.txt") == ["first note", "second note"]
    assert parse_inputs('{"text": "a b"}\n{"text": "c", "id": 3}\n', "f.jsonl") == ["a b", "c"]
    with pytest.raises(OdinError, match=r"f.jsonl, line 2: not valid JSON"):
        parse_inputs('{"text": "a"}\n{"text": \n', "f.jsonl")
    with pytest.raises(OdinError, match=r"f.jsonl, line 1: expected an object with a string \"text\""):
        parse_inputs('{"body": "a"}\n', "f.jsonl")
    with pytest.raises(OdinError, match="f.txt is empty"):
        parse_inputs("\n  \n", "f.txt")


def pcfg(**kw):
    return OmegaConf.create({"text": None, "input_file": None, "output_file": None, "model_dir": None, **kw})


def test_input_errors(tmp_path):
    with pytest.raises(OdinError, match="Nothing to predict"):
        read_inputs(pcfg())
    with pytest.raises(OdinError, match="predict.text is empty"):
        read_inputs(pcfg(text="   "))
    with pytest.raises(OdinError, match="not both"):
        read_inputs(pcfg(text="a", input_file="b"))
    with pytest.raises(OdinError, match="file not found"):
        read_inputs(pcfg(input_file=str(tmp_path / "missing.txt")))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(OdinError, match="is empty"):
        read_inputs(pcfg(input_file=str(tmp_path / "empty.txt")))


def test_model_dir_errors(tmp_path):
    with pytest.raises(OdinError, match="predict.model_dir is required"):
        resolve_model_dir(pcfg())
    with pytest.raises(OdinError, match="Model directory not found"):
        resolve_model_dir(pcfg(model_dir=str(tmp_path / "nope")))
    (tmp_path / "file").write_text("x")
    with pytest.raises(OdinError, match="is a file, not a model directory"):
        resolve_model_dir(pcfg(model_dir=str(tmp_path / "file")))
    (tmp_path / "run" / "final_model").mkdir(parents=True)
    with pytest.raises(OdinError, match="looks like a run directory: use .*final_model"):
        resolve_model_dir(pcfg(model_dir=str(tmp_path / "run")))


# --- with a model --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    cfg = compose_cfg(["model=tiny_random"], output_dir=tmp_path_factory.mktemp("run"))
    return make_tiny_adapter(cfg, tmp_path_factory.mktemp("train") / "final_model")


def test_predict_in_process(adapter, tmp_path):
    cfg = compose_cfg(["model=tiny_random", "generation.max_new_tokens=16"], output_dir=tmp_path)
    texts = ["Enalapril caused acute renal failure.", "Aspirin for pain."]
    records = predict(cfg, texts, adapter)
    assert [r["text"] for r in records] == texts
    for rec in records:
        assert set(rec) == {"text", "entities", "relations", "parse_errors", "generation"}
        for e in rec["entities"]:  # whatever the random model says, offsets point at the entity's text
            for start, end in e["spans"]:
                assert rec["text"][start:end].lower().split() == e["text"].lower().split()


def test_chunks_are_read_as_they_are_needed():
    consumed = []

    def texts():
        for i in range(5):
            consumed.append(i)
            yield f"t{i}"

    it = chunks(texts(), 2)
    assert next(it) == ["t0", "t1"] and consumed == [0, 1]
    assert list(it) == [["t2", "t3"], ["t4"]]


def test_predict_streams_chunk_by_chunk_as_one_pass_would(adapter, tmp_path):
    cfg = compose_cfg(["model=tiny_random", "generation.max_new_tokens=16", "predict.chunk_size=2"],
                      output_dir=tmp_path)
    texts = ["Enalapril caused acute renal failure.", "Aspirin for pain.", "Rash.", "Metformin and lactic acidosis.",
             "No events."]
    out = tmp_path / "stream.jsonl"
    assert predict_stream(cfg, iter(texts), adapter, out) == 5
    assert json_lines(out.read_text()) == predict(cfg, texts, adapter)  # chunks of 2 change no answer


def test_a_bad_line_late_in_a_stream_keeps_the_chunks_before_it(adapter, tmp_path):
    cfg = compose_cfg(["model=tiny_random", "generation.max_new_tokens=8", "predict.chunk_size=2"],
                      output_dir=tmp_path)
    stdin = "".join(json.dumps({"text": t}) + "\n" for t in ["Aspirin for pain.", "Rash.", "Cough."]) + '{"text": \n'
    out = tmp_path / "partial.jsonl"
    from odin.tasks.predict import iter_texts

    with pytest.raises(OdinError, match="stdin, line 4: not valid JSON"):
        predict_stream(cfg, iter_texts(io.StringIO(stdin), "stdin"), adapter, out)
    assert [r["text"] for r in json_lines(out.read_text())] == ["Aspirin for pain.", "Rash."]  # the first chunk


def test_a_files_bad_line_is_refused_before_any_model_loads(tmp_path, adapter):
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"text": "a"}\n{"text": "b"}\n{"body": "c"}\n')
    cfg = compose_cfg(["model=tiny_random", "task=predict", f"predict.model_dir={adapter}",
                       f"predict.input_file={notes}"], output_dir=tmp_path)
    with pytest.raises(OdinError, match=r"notes.jsonl, line 3: expected an object with a string \"text\""):
        check(cfg)


def run_predict(adapter, tmp_path, *overrides, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "odin", "task=predict", "model=tiny_random", f"predict.model_dir={adapter}",
         "generation.max_new_tokens=12", f"hydra.run.dir={tmp_path / 'run'}", *overrides],
        cwd=REPO, capture_output=True, text=True, timeout=300, input=stdin,
    )


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_predict_from_text_prints_and_writes_jsonl(adapter, tmp_path):
    proc = run_predict(adapter, tmp_path, "predict.text='Enalapril caused acute renal failure.'")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (printed,) = json_lines(proc.stdout)
    assert printed["text"] == "Enalapril caused acute renal failure."
    assert json_lines((tmp_path / "run" / "predictions.jsonl").read_text()) == [printed]


def test_predict_from_a_file(adapter, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Aspirin for pain.\n\nMetformin and lactic acidosis.\nNo events.\n")
    out = tmp_path / "out" / "preds.jsonl"
    proc = run_predict(adapter, tmp_path, f"predict.input_file={notes}", f"predict.output_file={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = json_lines(out.read_text())
    assert [r["text"] for r in records] == ["Aspirin for pain.", "Metformin and lactic acidosis.", "No events."]
    assert json_lines(proc.stdout) == []  # a file run writes the file, not the console
    assert "predict: 100%" in proc.stderr and "3/3" in proc.stderr  # one bar over the file's texts, counted first


def test_predict_from_stdin_jsonl(adapter, tmp_path):
    stdin = json.dumps({"text": "Warfarin interacts with aspirin."}) + "\n" + json.dumps({"text": "Rash."}) + "\n"
    proc = run_predict(adapter, tmp_path, "predict.input_file=-", stdin=stdin)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["text"] for r in json_lines(proc.stdout)] == ["Warfarin interacts with aspirin.", "Rash."]
    assert len(json_lines((tmp_path / "run" / "predictions.jsonl").read_text())) == 2


def test_predict_errors_exit_cleanly(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "odin", "task=predict", "model=tiny_random", "predict.text=hello",
         f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1
    assert "predict.model_dir is required" in proc.stderr and "Traceback" not in proc.stderr
