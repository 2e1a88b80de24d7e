"""Metrics on hand-computed cases."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odin.extraction import Entity, Extraction, Relation
from odin.metrics import DEFINITIONS, HEADLINE_METRICS, PRF, Counts, prf, score

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


def test_micro_differs_from_the_average_over_examples():
    # Example 1: 4 gold, all found. Example 2: 1 gold, missed, 1 wrong prediction.
    g1 = ex([("a", D), ("b", D), ("c", D), ("d", D)])
    g2 = ex([("e", D)])
    p2 = ex([("f", D)])
    s = score([g1, g2], [g1, p2])
    # micro: TP 4, FP 1, FN 1 -> P = R = F1 = 0.8
    assert s.entities.micro.f1 == pytest.approx(0.8)
    # average over examples: mean of per-example F1 (1.0 and 0.0)
    assert s.entities.example_avg.f1 == pytest.approx(0.5)
    # one type only: the macro average over types is that type's score, the micro one
    assert s.entities.macro.f1 == pytest.approx(0.8)


def test_asymmetric_counts_tell_precision_from_recall():
    # 2 TP, 0 FP, 2 FN: everything said is right (P 1.0), half of gold is found (R 0.5).
    assert prf(Counts(tp=2, fp=0, fn=2)) == PRF(precision=1.0, recall=0.5, f1=pytest.approx(2 / 3))
    # and the mirror: 2 TP, 2 FP, 0 FN
    assert prf(Counts(tp=2, fp=2, fn=0)) == PRF(precision=0.5, recall=1.0, f1=pytest.approx(2 / 3))
    g = ex([("a", D), ("b", D), ("c", D), ("d", D)], [("a", "causes", "c"), ("b", "causes", "d")])
    p = ex([("a", D), ("b", D)], [("a", "causes", "c"), ("b", "causes", "d"), ("a", "treats", "d"),
                                  ("b", "treats", "c")])
    s = score([g], [p])
    assert (s.entities.micro.precision, s.entities.micro.recall) == (1.0, 0.5)
    assert (s.relations.micro.precision, s.relations.micro.recall) == (0.5, 1.0)
    h = s.headline()
    assert (h["entity_precision"], h["entity_recall"], h["relation_precision"], h["relation_recall"]) == \
        (1.0, 0.5, 0.5, 1.0)


# Three examples where micro, macro over types and the average over examples all differ.
#   1: Drugs a, b gold; a, b, x predicted        TP 2 FP 1 FN 0   P 2/3  R 1    F1 0.8
#   2: Symptoms s, t, w gold; s predicted        TP 1 FP 0 FN 2   P 1    R 1/3  F1 0.5
#   3: Drug u gold; nothing predicted            TP 0 FP 0 FN 1   P 0    R 0    F1 0
# Per type: Drug TP 2 FP 1 FN 1 (P = R = F1 = 2/3); Symptom TP 1 FP 0 FN 2 (P 1, R 1/3, F1 0.5).
THREE_GOLD = [ex([("a", D), ("b", D)]), ex([("s", S), ("t", S), ("w", S)]), ex([("u", D)])]
THREE_PRED = [ex([("a", D), ("b", D), ("x", D)]), ex([("s", S)]), Extraction()]
THREE = {
    "f1": 0.6, "precision": 0.75, "recall": 0.5,  # micro: TP 3 FP 1 FN 3
    "f1_macro": (2 / 3 + 0.5) / 2, "precision_macro": (2 / 3 + 1) / 2, "recall_macro": (2 / 3 + 1 / 3) / 2,
    "f1_example_avg": (0.8 + 0.5 + 0) / 3, "precision_example_avg": (2 / 3 + 1 + 0) / 3,
    "recall_example_avg": (1 + 1 / 3 + 0) / 3,
}


def as_relations(x: Extraction) -> Extraction:
    """The same counts on relations: each entity text becomes a relation, its type picks the relation type."""
    rel = {D: "treats", S: "causes"}
    return ex(rels=[(e.text, rel[e.type], "pain") for e in x.entities])


def test_micro_macro_and_average_over_examples_all_differ_and_are_named_apart():
    s = score(THREE_GOLD, THREE_PRED)
    h = s.headline()
    for name, value in THREE.items():
        assert h[f"entity_{name}"] == pytest.approx(value), name
    assert (s.entities.micro.f1, s.entities.macro.f1, s.entities.example_avg.f1) == \
        pytest.approx((0.6, 7 / 12, 1.3 / 3))
    assert s.entities.macro.precision == pytest.approx(5 / 6) and s.entities.macro.recall == pytest.approx(0.5)
    # the same numbers for relations, type by type
    r = score([as_relations(g) for g in THREE_GOLD], [as_relations(p) for p in THREE_PRED]).headline()
    for name, value in THREE.items():
        assert r[f"relation_{name}"] == pytest.approx(value), name


def test_headline_names_every_average():
    h = score(THREE_GOLD, THREE_PRED).headline()
    assert tuple(h) == HEADLINE_METRICS
    assert {"entity_f1", "entity_f1_macro", "entity_f1_example_avg", "relation_f1", "relation_f1_macro",
            "relation_f1_example_avg", "relation_precision_macro", "relation_recall_example_avg",
            "grounding_rate"} <= set(h)
    assert set(DEFINITIONS) == {"micro", "macro", "example_avg"}


def test_an_empty_prediction_against_gold_has_precision_zero_not_one():
    g = ex([("aspirin", D), ("rash", S)], [("aspirin", "causes", "rash")])
    s = score([g], [Extraction()])
    for scores in (s.entities, s.relations):
        for avg in (scores.micro, scores.macro, scores.example_avg):
            assert (avg.precision, avg.recall, avg.f1) == (0.0, 0.0, 0.0)
    assert s.entities.per_type["Drug"]["precision"] == 0.0
    assert prf(Counts(tp=0, fp=0, fn=3)) == PRF(0.0, 0.0, 0.0)


def test_empty_predictions_score_zero_recall():
    g = ex([("aspirin", D)], [("aspirin", "causes", "rash")])
    s = score([g], [Extraction()])
    assert s.entities.micro.recall == 0.0 and s.entities.micro.f1 == 0.0 and s.entities.micro.precision == 0.0
    assert s.relations.counts.fn == 1
    assert s.grounding_rate != s.grounding_rate  # NaN without inputs


def test_empty_gold_and_empty_prediction_is_perfect_per_example():
    s = score([Extraction()], [Extraction()], ["nothing here"])
    assert s.entities.example_avg.f1 == 1.0 and s.entities.micro.f1 == 1.0 and s.entities.macro.f1 == 1.0
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


_entities = st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from([D, S, "Disease"])), max_size=4)
_relations = st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from(["causes", "treats"]), st.sampled_from("cd")),
                      max_size=3)
_extractions = st.builds(ex, _entities, _relations)


@given(st.lists(st.tuples(_extractions, _extractions), min_size=1, max_size=6))
@settings(max_examples=100, deadline=None)
def test_swapping_gold_and_prediction_swaps_precision_and_recall(pairs):
    golds, preds = [g for g, _ in pairs], [p for _, p in pairs]
    forward, backward = score(golds, preds), score(preds, golds)
    for a, b in ((forward.entities, backward.entities), (forward.relations, backward.relations)):
        for avg in ("micro", "macro", "example_avg"):
            x, y = getattr(a, avg), getattr(b, avg)
            assert (x.precision, x.recall) == pytest.approx((y.recall, y.precision)), avg
            assert x.f1 == pytest.approx(y.f1), avg
            assert 0.0 <= min(x.precision, x.recall, x.f1) and max(x.precision, x.recall, x.f1) <= 1.0
