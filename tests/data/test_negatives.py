"""data.sources.ade.negatives: ADE-NEG sentences (nothing to extract) in the training split only, or in every split.

The training-only mode must leave validation and test exactly as they are without negatives, so runs with and
without them are scored on the same examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from odin.data.prepared import read_split
from odin.errors import OdinError
from odin.tasks import prepare

from conftest import compose_cfg, task_ctx

DRUGS = ["amoxicillin", "ibuprofen", "lithium", "warfarin", "cisplatin", "metformin", "enalapril", "haloperidol"]
EFFECTS = ["rash", "gastric bleeding", "tremor", "hematuria", "nausea", "lactic acidosis", "renal failure", "dystonia"]


def write_ade_folder(folder: Path, n_docs: int = 40) -> Path:
    """A hand-made DRUG-AE.rel (one annotated sentence per PMID) and ADE-NEG.txt (negatives of the same PMIDs, and of
    PMIDs with no annotated sentence)."""
    folder.mkdir(parents=True, exist_ok=True)
    rel, neg = [], []
    for i in range(n_docs):
        pmid = 1000 + i
        drug, effect = DRUGS[i % len(DRUGS)], EFFECTS[(i * 3) % len(EFFECTS)]
        sentence = f"Case {i}: {effect} developed after {drug} was given."
        d, e = sentence.index(drug), sentence.index(effect)
        rel.append(f"{pmid}|{sentence}|{effect}|{e}|{e + len(effect)}|{drug}|{d}|{d + len(drug)}")
        neg.append(f"{pmid} NEG Case {i}: the patient was discharged on day {i + 2}.")
    for i in range(20):  # abstracts that only have sentences without an adverse effect
        neg.append(f"{5000 + i} NEG Report {i}: {DRUGS[i % len(DRUGS)]} was well tolerated.")
    (folder / "DRUG-AE.rel").write_text("\n".join(rel) + "\n")
    (folder / "ADE-NEG.txt").write_text("\n".join(neg) + "\n")
    return folder


def prepared(tmp_path: Path, name: str, ade_dir: Path, *overrides: str) -> Path:
    cfg = compose_cfg(["task=prepare", "model=tiny_random", "data=ade", f"data.sources.ade.path={ade_dir}",
                       "data.sources.ade.allow_modified=true", *overrides], output_dir=tmp_path / name)
    prepare.run(task_ctx(cfg))
    return tmp_path / name / "data"


def test_training_negatives_leave_val_and_test_byte_identical(tmp_path):
    ade_dir = write_ade_folder(tmp_path / "ade")
    without = prepared(tmp_path, "none", ade_dir)
    with_neg = prepared(tmp_path, "train", ade_dir, "data.sources.ade.negatives=train")
    for split in ("val", "test"):
        assert (with_neg / f"{split}.jsonl").read_bytes() == (without / f"{split}.jsonl").read_bytes()
        assert (with_neg / f"{split}.parquet").read_bytes() == (without / f"{split}.parquet").read_bytes()
    train = read_split(with_neg, "train")
    negatives = [r for r in train if "None found." in r["output"] and "[Drug]" not in r["output"]]
    held_out_docs = {r["doc_id"] for s in ("val", "test") for r in read_split(without, s)}
    # Every negative of a training or negative-only abstract is in; none of a val/test abstract is.
    assert len(negatives) == 60 - len(held_out_docs)
    assert not {r["doc_id"] for r in negatives} & held_out_docs
    assert len(train) == len(read_split(without, "train")) + len(negatives)
    stats = json.loads((with_neg / "stats.json").read_text())
    assert stats["dropped"]["training only"] == {
        f"training-only example from a {s} document: left out": n for s, n in
        (("val", len({r["doc_id"] for r in read_split(without, "val")})),
         ("test", len({r["doc_id"] for r in read_split(without, "test")})))}
    assert stats["sources"]["ade"]["training_only_examples"] == 60
    assert "in the training split only" in (with_neg / "README.md").read_text()

    # A ratio keeps a fixed subset: 0.25 negatives per annotated sentence of 40, before the val/test ones go.
    thinned = prepared(tmp_path, "ratio", ade_dir, "data.sources.ade.negatives=train",
                       "data.sources.ade.negative_ratio=0.25")
    assert (thinned / "test.jsonl").read_bytes() == (without / "test.jsonl").read_bytes()
    stats = json.loads((thinned / "stats.json").read_text())
    assert stats["sources"]["ade"]["training_only_examples"] == 10
    thinned_neg = {r["input"] for r in read_split(thinned, "train") if "[Drug]" not in r["output"]}
    assert len(thinned_neg) <= 10 and thinned_neg <= {r["input"] for r in negatives}


def test_negatives_in_every_split_change_the_splits(tmp_path):
    ade_dir = write_ade_folder(tmp_path / "ade")
    everywhere = prepared(tmp_path, "all", ade_dir, "data.sources.ade.negatives=all")
    test = read_split(everywhere, "test")
    assert any("[Drug]" not in r["output"] for r in test)  # the old include_negatives behaviour, kept on purpose


def test_a_ratio_without_negatives_is_refused_before_work(tmp_path):
    from odin.validate import validate

    cfg = compose_cfg(["task=prepare", "model=tiny_random", "data=ade", f"data.sources.ade.path={tmp_path}",
                       "data.sources.ade.negative_ratio=0.5"], output_dir=tmp_path / "run")
    with pytest.raises(OdinError, match="negative_ratio=0.5 thins the negatives, but data.sources.ade.negatives=none"):
        validate(cfg)
    cfg = compose_cfg(["task=prepare", "data=ade", "data.sources.ade.negatives=train",
                       "data.sources.ade.negative_ratio=-1"], output_dir=tmp_path / "run")
    with pytest.raises(OdinError, match="data.sources.ade.negative_ratio=-1"):
        validate(cfg)


@pytest.mark.corpus
def test_real_ade_val_and_test_do_not_change_with_training_negatives(raw_data, tmp_path):
    runs = {}
    for name, overrides in (("none", []), ("train", ["data.sources.ade.negatives=train",
                                                     "data.sources.ade.negative_ratio=0.5"])):
        cfg = compose_cfg(["task=prepare", "model=tiny_random", "data=ade", f"paths.raw_data_dir={raw_data}",
                           *overrides], output_dir=tmp_path / name)
        prepare.run(task_ctx(cfg))
        runs[name] = tmp_path / name / "data"
    for split in ("val", "test"):
        assert (runs["train"] / f"{split}.jsonl").read_bytes() == (runs["none"] / f"{split}.jsonl").read_bytes()
    stats = json.loads((runs["train"] / "stats.json").read_text())
    train = read_split(runs["train"], "train")
    added = len(train) - len(read_split(runs["none"], "train"))
    # 0.5 per annotated sentence (4,272) is 2,136 negatives, less those of val/test abstracts.
    assert stats["sources"]["ade"]["training_only_examples"] == 2136
    assert 1500 < added < 2136
