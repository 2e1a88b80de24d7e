"""The mix: weights and caps on the training split only, the synthetic ratio, a seeded shuffle."""

from __future__ import annotations

from collections import Counter

import pytest
from omegaconf import OmegaConf

from odin.data.example import Example
from odin.data.mix import mix
from odin.data.sources import synthetic
from odin.errors import OdinError
from odin.extraction import Extraction
from odin.schema import DataConfig


def data_cfg(**overrides):
    """A DataConfig node as Hydra composes it: `sources.<name>: {...}` turns a source on."""
    base = OmegaConf.structured(DataConfig(name="test"))
    return OmegaConf.merge(base, overrides)


def corpus(source, n_train=100, n_val=10, n_test=10):
    out = []
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        out += [Example(id=f"{source}:{split}:{i}", doc_id=f"{source}{split}{i}", text=f"{source} {split} {i}",
                        extraction=Extraction(), source=source, split=split) for i in range(n)]
    return out


def by_source(examples):
    return Counter(e.source for e in examples)


def test_weights_scale_training_only():
    examples = corpus("ade") + corpus("bc5cdr") + corpus("biored")
    cfg = data_cfg(sources={"ade": {"weight": 0}, "bc5cdr": {"weight": 0.5}, "biored": {"weight": 2}})
    splits, report = mix(examples, cfg, seed=1)
    assert by_source(splits["train"]) == {"bc5cdr": 50, "biored": 200}
    for split in ("val", "test"):  # evaluation data stays whole, whatever the mix
        assert by_source(splits[split]) == {"ade": 10, "bc5cdr": 10, "biored": 10}
    assert report == {"ade: training examples left out by weight 0": 100,
                      "bc5cdr: training examples left out by weight 0.5": 50}
    ids = [e.id for e in splits["train"]]
    assert len(set(ids)) == len(ids)  # repeated copies get their own ids
    assert sum(i.endswith("#rep2") for i in ids) == 100
    assert {e.doc_id for e in splits["train"] if e.source == "biored"} == {f"bioredtrain{i}" for i in range(100)}


def test_fractional_weight_above_one_and_cap():
    cfg = data_cfg(sources={"ade": {"weight": 1.5}, "bc5cdr": {"cap": 30}})
    splits, report = mix(corpus("ade") + corpus("bc5cdr"), cfg, seed=2)
    assert by_source(splits["train"]) == {"ade": 150, "bc5cdr": 30}
    assert report == {"bc5cdr: training examples over cap 30": 70}


def test_shuffle_is_seeded():
    cfg = data_cfg(sources={"ade": {}, "bc5cdr": {"weight": 0.5}})
    examples = corpus("ade") + corpus("bc5cdr")
    a, _ = mix(examples, cfg, seed=3)
    b, _ = mix(examples, cfg, seed=3)
    c, _ = mix(examples, cfg, seed=4)
    assert [e.id for e in a["train"]] == [e.id for e in b["train"]]
    assert [e.id for e in a["train"]] != [e.id for e in c["train"]]
    assert [e.id for e in a["val"]] == [e.id for e in c["val"]]  # evaluation order does not depend on the mix seed


def test_synthetic_ratio_adds_synthetic_notes_to_training_only():
    cfg = data_cfg(sources={"ade": {"weight": 0.5}, "synthetic": {"seed": 5}}, synthetic_ratio=0.25)
    splits, _ = mix(corpus("ade", n_train=200), cfg, seed=0)
    counts = by_source(splits["train"])
    assert counts == {"ade": 100, "synthetic": 25}  # 25% of the real training examples after their weights
    assert by_source(splits["val"]) == {"ade": 10} and by_source(splits["test"]) == {"ade": 10}
    syn = [e for e in splits["train"] if e.source == "synthetic"]
    assert {e.split for e in syn} == {"train"}
    assert {e.id for e in syn} <= {e.id for e in synthetic.generate(60, 5)}


def test_synthetic_ratio_needs_a_synthetic_source():
    with pytest.raises(OdinError, match="data.sources.synthetic"):
        mix(corpus("ade"), data_cfg(sources={"ade": {}}, synthetic_ratio=0.5), seed=0)
    with pytest.raises(OdinError, match="synthetic_ratio"):
        mix(corpus("ade"), data_cfg(sources={"ade": {}}, synthetic_ratio=-1), seed=0)


def test_negative_weight_or_cap_is_a_user_error():
    with pytest.raises(OdinError, match="data.sources.ade.weight"):
        mix(corpus("ade"), data_cfg(sources={"ade": {"weight": -1}}), seed=0)
    with pytest.raises(OdinError, match="data.sources.ade.cap"):
        mix(corpus("ade"), data_cfg(sources={"ade": {"cap": -5}}), seed=0)
