"""The dataset card (one writer for task=prepare and task=publish): huggingface_hub reads back its metadata, and its
body states what was actually read, with counts equal to stats.json."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard

from conftest import compose_cfg
from odin.data.card import build_card, card_example, write_card
from odin.data.prepare import prepare
from odin.data.sources import bc5cdr
from odin.data.stats import rows

FAST = ["task=prepare", "model=tiny_random"]


def statistics_table(text: str) -> dict[str, list[str]]:
    """The card's statistics table: row label -> its cells, one per split."""
    section = text.split("## Statistics", 1)[1].split("\n\n", 2)[1]
    table = {}
    for line in section.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0]] = cells[1:]
    return table


def check_card_matches_stats(data_dir: Path) -> DatasetCard:
    stats = json.loads((data_dir / "stats.json").read_text())
    card = DatasetCard.load(data_dir / "README.md")
    meta = card.data.to_dict()
    total = sum(s["examples"] for s in stats["splits"].values())
    assert meta["language"] == ["en"]
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "train.parquet"}, {"split": "validation", "path": "val.parquet"},
        {"split": "test", "path": "test.parquet"}]}]
    assert meta["size_categories"] == ["n<1K" if total < 1000 else "1K<n<10K"]
    assert "relation-extraction" in meta["tags"] and meta["task_categories"]
    table = statistics_table(card.text)
    assert table == {label.strip(): cells for label, cells in rows(stats)}
    assert table["examples"] == [f"{stats['splits'][s]['examples']:,}" for s in ("train", "val", "test")]
    return card


def test_card_of_synthetic_data_round_trips(make_cfg):
    cfg = make_cfg(FAST + ["data=synthetic", "data.sources.synthetic.num_examples=150",
                           "data.sources.synthetic.version=1"])
    data_dir = prepare(cfg, Path(cfg.paths.output_dir) / "data")
    card = check_card_matches_stats(data_dir)
    meta = card.data.to_dict()
    assert meta["license"] == "apache-2.0" and "license_name" not in meta
    assert meta["source_datasets"] == ["original"] and meta["pretty_name"] == "odin synthetic"
    stats = json.loads((data_dir / "stats.json").read_text())
    read = stats["sources"]["synthetic"]
    assert read["examples"] == 150 and read["origin"] == "odin's rule-based generator (seed 42, version 1)"
    assert f"- **odin synthetic notes**: 150 examples from odin's rule-based generator (seed 42, version 1)." \
        in card.text
    assert "Drug and Disease entities, causes and treats relations (version 1)" in card.text

    # The writer rebuilds the same card from the directory alone (what task=publish pushes).
    before = (data_dir / "README.md").read_text()
    (data_dir / "README.md").unlink()
    write_card(data_dir)
    assert (data_dir / "README.md").read_text() == before
    records = [json.loads(line) for line in (data_dir / "train.jsonl").read_text().splitlines()]
    example = card_example(records)
    assert "--[" in example["output"] and f"```\n{example['output']}\n```" in before

    # The fields table lists what the records carry, with their types and nulls (counted over every split).
    everything = [json.loads(line) for s in ("train", "val", "test") for line in (data_dir / f"{s}.jsonl").open()]
    assert f"The fields of the {len(everything):,} records, the same in every split" in card.text
    for key in ("instruction", "input", "output", "id", "doc_id", "source"):
        nulls = sum(r.get(key) is None for r in everything)
        assert re.search(rf"^\| `{key}` \| string \| {nulls:,} \| \S", card.text, re.M), key
    assert [f["name"] for f in card.data.dataset_info["features"]] == list(records[0])


def test_record_fields_give_each_field_one_type_and_count_its_nulls():
    from odin.data.prepared import record_fields

    records = [{"input": "a", "n": 1, "doc_id": None, "flag": True},
               {"input": "b", "n": "2", "doc_id": "7", "score": 1.5},
               {"input": "c", "n": 3}]
    assert [(f.name, f.dtype, f.nulls, f.records) for f in record_fields(records)] == [
        ("input", "string", 0, 3), ("n", "string", 0, 3), ("doc_id", "string", 2, 3), ("flag", "bool", 2, 3),
        ("score", "float64", 2, 3)]
    text = build_card(mixed_stats(), None, record_fields(records)).text
    assert "| `doc_id` | string | 2 | the document the text comes from" in text
    assert "| `flag` | bool | 2 |  |" in text


def mixed_stats() -> dict:
    """stats.json of 1,200 records from the user's files and none from BC5CDR."""
    return {"splits": {s: {"examples": n, "documents": n, "chunks": 0, "without_entities": 0,
                            "sources": {"files": n}, "entities": {"Drug": 1, "Disease": 0, "Symptom": 0},
                            "relations": {"causes": 0, "treats": 0, "associated_with": 0, "interacts_with": 0},
                            "input_tokens": {"p50": 9, "p90": 9, "p99": 9, "max": 9}}
                        for s, n in (("train", 1200), ("val", 0), ("test", 0))},
             "dropped": {}, "settings": {"name": "mine", "seed": 1},
             "sources": {"files": {"examples": 1200, "weight": 1.0, "cap": None, "origin": "files given by the user",
                                   "mapping": "read as written", "files": [
                                       {"name": "train.jsonl", "bytes": 10, "sha256": "ab" * 32, "documents": 1200,
                                        "unit": "records", "differs": None}]},
                         "bc5cdr": {"examples": 0, "weight": 0.0, "cap": None, "mapping": "m", "origin": "local"}}}


def test_card_of_a_mix_names_every_licence():
    card = build_card(mixed_stats())
    meta = card.data.to_dict()
    assert meta["license"] == "other" and meta["license_name"] == "mixed"
    assert meta["license_details"].startswith("user-provided files: as provided by their author")
    assert "BioCreative V CDR: public domain" in meta["license_details"]
    assert meta["size_categories"] == ["1K<n<10K"] and meta["source_datasets"] == ["extended|bigbio/bc5cdr"]
    assert "1,200 examples from files given by the user: train.jsonl (1,200 records, sha256 abababababababab)." \
        in card.text
    assert "`files` weight 1; `bc5cdr` weight 0" in card.text


@pytest.mark.corpus
def test_card_says_when_the_corpus_differs_from_its_release(raw_data, tmp_path):
    folder = tmp_path / "bc5cdr"
    folder.mkdir()
    for name in bc5cdr.FILES.values():
        shutil.copyfile(raw_data / "bc5cdr" / name, folder / name)
    train = folder / bc5cdr.FILES["train"]
    data = train.read_bytes()
    end = -2
    for _ in range(261):
        end = data.index(b"\n\n", end + 2)
    train.write_bytes(data[: end + 2])

    cfg = compose_cfg(FAST + ["data=bc5cdr", f"data.sources.bc5cdr.path={folder}",
                              "data.sources.bc5cdr.allow_modified=true"], output_dir=tmp_path / "run")
    data_dir = prepare(cfg, tmp_path / "run" / "data")
    card = check_card_matches_stats(data_dir)
    meta = card.data.to_dict()
    assert meta["license"] == "other" and meta["license_name"] == "public-domain"
    assert meta["source_datasets"] == ["extended|bigbio/bc5cdr"]
    text = re.sub(r"\s+", " ", card.text)
    assert ("1,261 examples from files that **differ from the official release CDR.Corpus.v010516**, read on "
            "purpose (data.sources.bc5cdr.allow_modified=true): CDR_TrainingSet.PubTator.txt differs from the "
            "CDR.Corpus.v010516 release") in text
    assert "261 of the release's 500 abstracts read" in text
    assert "CDR_TrainingSet.PubTator.txt (261 abstracts), CDR_DevelopmentSet.PubTator.txt (500 abstracts)" in text
    assert "1,500" not in text  # no fixed claim about the corpus' size
    stats = json.loads((data_dir / "stats.json").read_text())
    assert stats["sources"]["bc5cdr"]["matches_release"] is False
