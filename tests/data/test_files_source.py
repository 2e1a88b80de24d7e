"""Prepared Alpaca files as a source: JSON and JSONL, validation errors naming file and record, ids."""

from __future__ import annotations

import json

import pytest

from odin.data.prepared import example_to_record
from odin.data.sources import files, synthetic
from odin.errors import OdinError
from odin.extraction import Entity, Extraction, Relation
from odin.format import INSTRUCTION, render
from odin.data.sources.files import FilesSourceConfig

OUTPUT = render([Entity("enalapril", "Drug"), Entity("acute renal failure", "Symptom")],
                [Relation("enalapril", "causes", "acute renal failure")])


def alpaca(input_text, output=OUTPUT, **extra):
    return {"instruction": INSTRUCTION, "input": input_text, "output": output, **extra}


def test_json_and_jsonl_files_become_examples_of_their_split(tmp_path):
    train = tmp_path / "train.json"  # a JSON array, as earlier versions stored data/datasets/*/train.json
    train.write_text(json.dumps([alpaca("Enalapril caused acute renal failure."), alpaca("No findings.",
                                                                                          render([]))]))
    test = tmp_path / "test.jsonl"
    test.write_text("\n".join(json.dumps(alpaca(f"Text {i}.", id=f"my:{i}", doc_id=f"pmid{i // 2}"))
                              for i in range(4)) + "\n")
    result = files.load(FilesSourceConfig(train_file=str(train), test_file=str(test)))
    assert [e.split for e in result.examples] == ["train"] * 2 + ["test"] * 4
    first = result.examples[0]
    assert first.source == "files" and first.text == "Enalapril caused acute renal failure."
    assert first.extraction == Extraction.of([Entity("enalapril", "Drug"), Entity("acute renal failure", "Symptom")],
                                             [Relation("enalapril", "causes", "acute renal failure")])
    assert not result.examples[1].extraction
    # Without ids: a stable hash of the input, the same in every run; with ids: the record's own.
    assert first.doc_id == files.load(FilesSourceConfig(train_file=str(train))).examples[0].doc_id
    assert first.doc_id.startswith("files:") and len(first.doc_id) == len("files:") + 16
    assert [(e.id, e.doc_id) for e in result.examples[2:]] == [("my:0", "pmid0"), ("my:1", "pmid0"),
                                                               ("my:2", "pmid1"), ("my:3", "pmid1")]


def test_prepared_records_round_trip(tmp_path):
    examples = synthetic.generate(50, 3)
    path = tmp_path / "val.jsonl"
    path.write_text("".join(json.dumps(example_to_record(e)) + "\n" for e in examples))
    loaded = files.load(FilesSourceConfig(val_file=str(path))).examples
    assert [(e.id, e.doc_id, e.text, e.extraction) for e in loaded] == \
        [(e.id, e.doc_id, e.text, e.extraction) for e in examples]


def test_repeated_ids_are_made_unique(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(alpaca(f"Text {i}.", id="same")) for i in range(3)))
    assert [e.id for e in files.load(FilesSourceConfig(train_file=str(path))).examples] == ["same", "same#2",
                                                                                            "same#3"]


def test_no_file_or_a_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(OdinError, match="train_file"):
        files.load(FilesSourceConfig())
    with pytest.raises(OdinError, match="val_file=.*not found"):
        files.load(FilesSourceConfig(val_file=str(tmp_path / "nope.json")))


def test_broken_records_name_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(alpaca("ok")) + "\n" + json.dumps({"instruction": "x", "input": "y"}) + "\n")
    with pytest.raises(OdinError, match=r"train.jsonl, line 2: missing or non-string output"):
        files.load(FilesSourceConfig(train_file=str(path)))
    path.write_text(json.dumps(alpaca("ok", output="### Entities:\n1. [Gene] BRCA1")) + "\n")
    with pytest.raises(OdinError, match=r"train.jsonl, line 1: output does not follow odin's format"):
        files.load(FilesSourceConfig(train_file=str(path)))
    path.write_text(json.dumps(alpaca("ok")) + "\n{broken\n")
    with pytest.raises(OdinError, match=r"train.jsonl, line 2: not valid JSON"):
        files.load(FilesSourceConfig(train_file=str(path)))
    array = tmp_path / "test.json"
    array.write_text(json.dumps([alpaca("ok"), alpaca(5)]))
    with pytest.raises(OdinError, match=r"test.json, record 2: missing or non-string input"):
        files.load(FilesSourceConfig(test_file=str(array)))
