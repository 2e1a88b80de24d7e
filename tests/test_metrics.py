"""Metrics on hand-computed cases."""

import math

import pytest

from odin.extraction import Entity, Extraction, Relation
from odin.metrics import Counts, prf, score

D, S = "Drug", "Symptom"


def ex(ents=(), rels=()):
    return Extraction.of([Entity(t, ty) for t, ty in ents], [Relation(*r) for r in rels])


def test_perfect_prediction():
    g = ex([("aspirin", D), ("rash", S)], [("aspirin", "causes", "rash")])
    s = score([g], [g], ["aspirin gave a rash"])
    assert s.entities.micro.f1 == 1.0 and s.relations.micro.f1 == 1.0
    assert s.grounding_rate == 1.0


def test_case_insensitive_exact_match_and_type_matters():
    g = ex([("Aspirin", D), ("rash", S)])
    p = ex([("aspirin", D), ("rash", D)])  # right text, wrong type for rash
    s = score([g], [p])
    assert (s.entities.counts.tp, s.entities.counts.fp, s.entities.counts.fn) == (1, 1, 1)
    assert s.entities.micro.precision == 0.5 and s.entities.micro.recall == 0.5


def test_micro_differs_from_macro():
    # Example 1: 4 gold, all found. Example 2: 1 gold, missed, 1 wrong prediction.
    g1 = ex([("a", D), ("b", D), ("c", D), ("d", D)])
    g2 = ex([("e", D)])
    p2 = ex([("f", D)])
    s = score([g1, g2], [g1, p2])
    # micro: TP 4, FP 1, FN 1 -> P = R = F1 = 0.8
    assert s.entities.micro.f1 == pytest.approx(0.8)
    # macro: mean of per-example F1 (1.0 and 0.0)
    assert s.entities.macro.f1 == pytest.approx(0.5)


def test_empty_predictions_score_zero_recall():
    g = ex([("aspirin", D)], [("aspirin", "causes", "rash")])
    s = score([g], [Extraction()])
    assert s.entities.micro.recall == 0.0 and s.entities.micro.f1 == 0.0
    assert s.relations.counts.fn == 1
    assert s.grounding_rate != s.grounding_rate  # NaN without inputs


def test_empty_gold_and_empty_prediction_is_perfect_per_example():
    s = score([Extraction()], [Extraction()], ["nothing here"])
    assert s.entities.macro.f1 == 1.0 and s.entities.micro.f1 == 1.0
    assert s.grounding_rate == 1.0


def test_empty_gold_with_predictions_is_all_false_positives():
    s = score([Extraction()], [ex([("aspirin", D)])], ["no drugs"])
    assert s.entities.counts.fp == 1 and s.entities.micro.precision == 0.0 and s.entities.micro.f1 == 0.0
    assert s.grounding_rate == 0.0


def test_relation_direction_matters():
    g = ex(rels=[("aspirin", "causes", "rash")])
    p = ex(rels=[("rash", "causes", "aspirin")])
    assert score([g], [p]).relations.micro.f1 == 0.0


def test_per_type_breakdown():
    g = ex([("aspirin", D), ("rash", S)], [("aspirin", "causes", "rash"), ("aspirin", "treats", "pain")])
    p = ex([("aspirin", D)], [("aspirin", "causes", "rash")])
    s = score([g], [p])
    assert s.entities.per_type["Drug"]["f1"] == 1.0
    assert s.entities.per_type["Symptom"]["recall"] == 0.0 and s.entities.per_type["Symptom"]["support"] == 1
    assert s.relations.per_type["causes"]["tp"] == 1 and s.relations.per_type["treats"]["fn"] == 1
    # Types neither gold nor predicted are left out rather than scored a perfect 1.0.
    assert "interacts_with" not in s.relations.per_type and "Disease" not in s.entities.per_type


def test_grounding_rate_counts_strings_found_in_input():
    p = ex([("aspirin", D), ("unicorn syndrome", S)])
    assert score([Extraction()], [p], ["Aspirin  was given"]).grounding_rate == 0.5


def test_prf_edge_cases():
    assert prf(Counts(0, 0, 0)).f1 == 1.0
    assert prf(Counts(0, 3, 0)).f1 == 0.0
    assert math.isclose(prf(Counts(2, 1, 1)).f1, 2 / 3)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="one prediction per gold"):
        score([Extraction()], [])
