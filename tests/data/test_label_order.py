"""data.label_order: the labels of a target answer in text order or as annotated, the same rule for every source."""

from __future__ import annotations

import json

import pytest

from odin.data.label_order import apply_label_order, first_occurrence, in_text_order
from odin.data.example import Example
from odin.data.prepared import read_split
from odin.extraction import Entity, Extraction, Relation
from odin.format import parse, to_record
from odin.tasks import prepare

from conftest import task_ctx

TEXT = "Rash and nausea began after amoxicillin; ibuprofen was stopped for headache."
# As an annotator might list them: by drug, not by where they are written.
ANNOTATED = Extraction.of(
    [Entity("amoxicillin", "Drug"), Entity("nausea", "Symptom"), Entity("ibuprofen", "Drug"),
     Entity("headache", "Symptom"), Entity("rash", "Symptom")],
    [Relation("amoxicillin", "causes", "nausea"), Relation("ibuprofen", "causes", "headache"),
     Relation("amoxicillin", "causes", "rash")],
)
IN_TEXT = Extraction.of(
    [Entity("rash", "Symptom"), Entity("nausea", "Symptom"), Entity("amoxicillin", "Drug"),
     Entity("ibuprofen", "Drug"), Entity("headache", "Symptom")],
    [Relation("amoxicillin", "causes", "rash"), Relation("amoxicillin", "causes", "nausea"),
     Relation("ibuprofen", "causes", "headache")],
)


def test_text_order_follows_the_input():
    assert in_text_order(TEXT, ANNOTATED) == IN_TEXT
    assert in_text_order(TEXT, IN_TEXT) == IN_TEXT  # already in order: unchanged


def test_whole_words_first_and_case_as_the_metric_folds_it():
    # "alum" first occurs as a word after "aluminum": the word is where the model should copy it from.
    assert first_occurrence("Acute aluminum toxicity after alum irrigation.", "alum") == 30
    assert first_occurrence("Hepatotoxicity after salicylate: hepatotoxicity again.", "hepatotoxicity") == 0
    assert first_occurrence("Ototoxicity-like", "toxicity") == 3  # inside a word only when nowhere else
    text = "Cough after lisinopril."
    missing = Extraction.of([Entity("dry mouth", "Symptom"), Entity("lisinopril", "Drug"),
                             Entity("cough", "Symptom")])
    # A label not in the text goes last, keeping its annotated place among such labels.
    assert [e.text for e in in_text_order(text, missing).entities] == ["cough", "lisinopril", "dry mouth"]


def test_annotated_keeps_the_source_order():
    example = Example("x", "d", TEXT, ANNOTATED, "files")
    assert apply_label_order([example], "annotated") == [example]
    assert apply_label_order([example], "text")[0].extraction == IN_TEXT
    with pytest.raises(ValueError, match="expected one of text, annotated"):
        apply_label_order([example], "alphabetical")


@pytest.mark.parametrize("order,expected", [("text", IN_TEXT), ("annotated", ANNOTATED)])
def test_prepare_writes_the_configured_order(make_cfg, tmp_path, order, expected):
    files = {}
    for split in ("train", "val", "test"):
        # One text per split (an input in two splits would be removed as leakage).
        record = {**to_record(f"{TEXT} Seen at the {split} visit.", ANNOTATED), "id": f"note:{split}",
                  "doc_id": f"d-{split}"}
        files[split] = tmp_path / f"{split}.jsonl"
        files[split].write_text(json.dumps(record) + "\n")
    cfg = make_cfg(["task=prepare", "model=tiny_random", "data=files", f"data.label_order={order}",
                    *(f"data.sources.files.{s}_file={p}" for s, p in files.items())])
    prepare.run(task_ctx(cfg))
    data_dir = tmp_path / "run" / "data"
    for split in ("train", "val", "test"):
        (record,) = read_split(data_dir, split)
        assert parse(record["output"]).extraction == expected
    stats = json.loads((data_dir / "stats.json").read_text())
    assert stats["settings"]["label_order"] == order
    assert ("first occur in the input" in (data_dir / "README.md").read_text()) == (order == "text")


def test_a_typo_fails_at_composition(make_cfg):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="label_order"):
        make_cfg(["data.label_order=alphabetic"])
