"""The champion rule as a pure function: every decision says why, with the scores of both versions."""

from __future__ import annotations

from odin.tracking.registry import Candidate, champion_decision

RULE = ["relation_f1", "entity_f1"]


def version(label, relation_f1=None, entity_f1=None, test_set="abc123"):
    metrics = {k: v for k, v in {"relation_f1": relation_f1, "entity_f1": entity_f1}.items() if v is not None}
    return Candidate(label, metrics, test_set)


def test_the_first_version_takes_the_alias_and_its_scores_are_said():
    decision = champion_decision(version("v1", 0.5, 0.6), None, RULE)
    assert decision.promote and "relation_f1 0.5000, entity_f1 0.6000; no champion before" in decision.reason


def test_different_test_sets_are_refused_with_both_scores():
    decision = champion_decision(version("new", 0.9, 0.9, "aaaa"), version("old", 0.5, 0.6, "bbbb"), RULE)
    assert not decision.promote and "different test sets (aaaa vs bbbb" in decision.reason
    assert "relation_f1 0.9000 vs 0.5000, entity_f1 0.9000 vs 0.6000" in decision.reason


def test_a_missing_metric_is_refused_with_both_scores():
    decision = champion_decision(version("new", 0.9), version("old", 0.9, 0.6), RULE)
    assert not decision.promote and "new has no entity_f1" in decision.reason
    assert "relation_f1 0.9000 vs 0.9000, entity_f1 missing vs 0.6000" in decision.reason


def test_better_worse_tie_and_force_each_give_both_scores():
    old = version("old", 0.7, 0.8)
    cases = {(0.75, 0.1): True, (0.65, 0.99): False, (0.7, 0.8): False, (0.7, 0.81): True}
    for (relation, entity), promote in cases.items():
        decision = champion_decision(version("new", relation, entity), old, RULE)
        assert decision.promote is promote, decision.reason
        assert f"relation_f1 {relation:.4f} vs 0.7000, entity_f1 {entity:.4f} vs 0.8000" in decision.reason
    forced = champion_decision(version("new", 0.1, 0.1, "other"), old, RULE, force=True)
    assert forced.promote and "register.force=true" in forced.reason and "0.1000 vs 0.7000" in forced.reason
