"""Document-grouped splits, official splits and their conflicts, exact-duplicate removal, the leakage check."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odin.data.example import Example
from odin.data.split import assign_splits, by_split, dedupe, remove_leakage
from odin.errors import OdinError
from odin.extraction import Entity, Extraction
from odin.schema import SplitConfig


def ex(id, doc_id, source="src", split=None, text=None, entity=None):
    extraction = Extraction.of([Entity(entity, "Drug")] if entity else [])
    return Example(id=id, doc_id=doc_id, text=text or f"text of {id}", extraction=extraction, source=source,
                   split=split)


def _splits_of_docs(examples):
    seen: dict[str, set] = {}
    for e in examples:
        seen.setdefault(e.doc_id, set()).add(e.split)
    return seen


def test_documents_are_split_by_ratio_and_kept_together():
    examples = [ex(f"s:{d}:{k}", str(d)) for d in range(1000) for k in range(3)]
    out, dropped = assign_splits(examples, SplitConfig(), seed=1)
    assert len(out) == 3000 and not dropped
    assert all(len(s) == 1 for s in _splits_of_docs(out).values())
    docs = Counter(next(iter(s)) for s in _splits_of_docs(out).values())
    assert docs == {"train": 800, "val": 100, "test": 100}


@pytest.mark.parametrize("use_official", [True, False])
def test_val_and_test_ratios_are_not_interchangeable(use_official):
    # Asymmetric ratios: a val/test mix-up cannot hide behind equal shares.
    examples = [ex(f"s:{d}:{k}", str(d)) for d in range(1000) for k in range(2)]
    out, _ = assign_splits(examples, SplitConfig(train=0.6, val=0.1, test=0.3, use_official=use_official), seed=4)
    docs = Counter(next(iter(s)) for s in _splits_of_docs(out).values())
    assert docs == {"train": 600, "val": 100, "test": 300}
    assert Counter(e.split for e in out) == {"train": 1200, "val": 200, "test": 600}
    official = [ex(f"o:{d}", f"o{d}", source="official", split=("train", "val", "test")[d % 3]) for d in range(30)]
    resplit, _ = assign_splits(official, SplitConfig(train=0.5, val=0.2, test=0.3, use_official=False), seed=0)
    assert Counter(e.split for e in resplit) == {"train": 15, "val": 6, "test": 9}


def test_splits_are_deterministic_per_seed():
    examples = [ex(f"s:{d}", str(d)) for d in range(200)]
    a, _ = assign_splits(examples, SplitConfig(), seed=7)
    b, _ = assign_splits(list(reversed(examples)), SplitConfig(), seed=7)
    c, _ = assign_splits(examples, SplitConfig(), seed=8)
    split_a = {e.id: e.split for e in a}
    assert split_a == {e.id: e.split for e in b}  # input order does not matter
    assert split_a != {e.id: e.split for e in c}


def test_official_splits_are_kept_unless_told_otherwise():
    examples = [ex(f"o:{d}", str(d), source="official", split=("train", "val", "test")[d % 3]) for d in range(60)]
    out, _ = assign_splits(examples, SplitConfig(), seed=0)
    assert [e.split for e in out] == [e.split for e in examples]
    resplit, _ = assign_splits(examples, SplitConfig(use_official=False), seed=0)
    assert Counter(e.split for e in resplit) == {"train": 48, "val": 6, "test": 6}


def test_a_document_in_two_official_splits_stays_in_the_more_held_out_one():
    examples = [
        ex("bc5cdr:1", "1", source="bc5cdr", split="test"),
        ex("biored:1", "1", source="biored", split="train"),  # same abstract, other corpus, other split
        ex("biored:2", "2", source="biored", split="val"),
        ex("ade:1:0", "1", source="ade"),  # no official split: follows its document
        ex("ade:3:0", "3", source="ade"),
    ]
    out, dropped = assign_splits(examples, SplitConfig(), seed=0)
    assert {e.id: e.split for e in out} == {"bc5cdr:1": "test", "biored:2": "val", "ade:1:0": "test",
                                            "ade:3:0": "train"}
    assert dropped == {"document also in another source's test split: removed from train": 1}


def test_bad_ratios_are_user_errors():
    with pytest.raises(OdinError, match="data.split"):
        assign_splits([ex("a", "1")], SplitConfig(train=0.8, val=0.3, test=0.1), seed=0)
    with pytest.raises(OdinError, match="data.split"):
        assign_splits([ex("a", "1")], SplitConfig(train=1.2, val=-0.1, test=-0.1), seed=0)


def test_zero_ratio_splits_stay_empty():
    examples = [ex(f"s:{d}", str(d)) for d in range(50)]
    out, _ = assign_splits(examples, SplitConfig(train=0.9, val=0.1, test=0.0), seed=3)
    assert Counter(e.split for e in out) == {"train": 45, "val": 5}


@settings(max_examples=100, deadline=None)
@given(
    docs=st.lists(st.tuples(st.sampled_from(["ade", "bc5cdr", "biored", "synthetic"]), st.integers(0, 30),
                            st.sampled_from([None, "train", "val", "test"])), max_size=80),
    seed=st.integers(0, 1000),
    use_official=st.booleans(),
)
def test_no_document_is_ever_in_two_splits(docs, seed, use_official):
    examples = [ex(f"{src}:{i}", str(doc), source=src, split=split) for i, (src, doc, split) in enumerate(docs)]
    out, dropped = assign_splits(examples, SplitConfig(use_official=use_official), seed=seed)
    assert all(len(s) == 1 for s in _splits_of_docs(out).values())
    assert len(out) + sum(dropped.values()) == len(examples)
    if use_official:
        originals = {e.id: e.split for e in examples}
        assert all(originals[e.id] in (None, e.split) for e in out)
    else:
        assert not dropped


def test_dedupe_removes_exact_duplicates_within_a_split_only():
    a = ex("a", "1", split="train", text="Aspirin caused rash.", entity="Aspirin")
    same = ex("b", "2", split="train", text="Aspirin caused rash.", entity="Aspirin")
    other_output = ex("c", "3", split="train", text="Aspirin caused rash.", entity="rash")
    in_test = ex("d", "4", split="test", text="Aspirin caused rash.", entity="Aspirin")
    out, dropped = dedupe([a, same, other_output, in_test])
    assert [e.id for e in out] == ["a", "c", "d"]
    assert dropped == {"exact duplicate (same input and output) in train": 1}


def test_leakage_check_keeps_an_input_in_its_most_held_out_split():
    train = ex("a", "1", split="train", text="Same sentence.")
    val = ex("b", "2", split="val", text="Same sentence.")
    test = ex("c", "3", split="test", text="Same sentence.")
    other = ex("d", "4", split="train", text="Another sentence.")
    out, dropped = remove_leakage([train, val, test, other])
    assert [e.id for e in out] == ["c", "d"]
    assert dropped == {"input also in test (leakage): removed from train": 1,
                       "input also in test (leakage): removed from val": 1}
    assert by_split(out) == {"train": [other], "val": [], "test": [test]}
