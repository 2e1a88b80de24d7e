"""task=vote: several runs' answers combined by a vote (odin/vote.py), scored and compared like any run."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compare_runs import note, write_run
from conftest import REPO
from odin.errors import OdinError
from odin.extraction import Entity, Extraction, Relation
from odin.format import render
from odin.vote import majority, vote

ASPIRIN, RASH = Entity("aspirin", "Drug"), Entity("rash", "Symptom")
CAUSES = Relation("aspirin", "causes", "rash")


def keys(e: Extraction) -> tuple[set, set]:
    return {x.key() for x in e.entities}, {x.key() for x in e.relations}


def test_a_majority_keeps_what_most_answers_hold_in_the_first_writing():
    a = Extraction.of([Entity("Aspirin", "Drug"), RASH], [CAUSES])
    b = Extraction.of([ASPIRIN], [Relation("ASPIRIN", "causes", "Rash")])  # the same keys, folded as the metric folds
    c = Extraction.of([ASPIRIN, Entity("fever", "Symptom")])
    v = vote([a, b, c], majority(3))
    # aspirin (3 votes) and the relation (2) stay, as answer a wrote them; rash (1) and fever (1) go.
    assert v == Extraction.of([Entity("Aspirin", "Drug")], [CAUSES])
    assert vote([a, b, c], 1) == Extraction.of([Entity("Aspirin", "Drug"), RASH, Entity("fever", "Symptom")], [CAUSES])


def test_an_answer_votes_once_for_what_it_repeats_and_types_count_apart():
    twice = Extraction((ASPIRIN, ASPIRIN), ())  # not through Extraction.of, which would drop the repeat
    assert vote([twice, Extraction()], 2) == Extraction()
    assert vote([Extraction.of([ASPIRIN]), Extraction.of([Entity("aspirin", "Disease")])], 2) == Extraction()


def test_majorities_and_impossible_vote_counts():
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    for bad in (0, 3):
        with pytest.raises(ValueError, match=f"min_votes={bad}: needs 1 to 2"):
            vote([Extraction(), Extraction()], bad)


texts = st.sampled_from(["aspirin", "Aspirin", "rash", "fever", "ibuprofen"])
entities = st.builds(Entity, texts, st.sampled_from(["Drug", "Symptom"]))
relations = st.builds(Relation, texts, st.sampled_from(["causes", "treats"]), texts)
extractions = st.builds(Extraction.of, st.lists(entities, max_size=4), st.lists(relations, max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.lists(extractions, min_size=1, max_size=5))
def test_one_vote_is_the_union_all_votes_the_intersection_and_more_votes_keep_less(answers):
    n = len(answers)
    for part in (0, 1):
        sets = [keys(a)[part] for a in answers]
        assert keys(vote(answers, 1))[part] == set().union(*sets)
        assert keys(vote(answers, n))[part] == set.intersection(*sets)
        for k in range(1, n):
            assert keys(vote(answers, k + 1))[part] <= keys(vote(answers, k))[part]


def _answers(n: int, hits: set[int]) -> list[str]:
    """Answers for notes 0..n-1: drug and symptom always, the relation only in the notes of `hits`."""
    out = []
    for i in range(n):
        _, gold = note(i)
        out.append(render(gold.entities, gold.relations if i in hits else ()))
    return out


def _odin(*overrides: str):
    return subprocess.run([sys.executable, "-m", "odin", "tracking=none", *overrides], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_task_vote_scores_the_majority_and_compare_pairs_it_with_its_runs(tmp_path):
    # Each run misses a different relation; any two of them agree on every other: the majority misses none.
    runs = [write_run(tmp_path / name, _answers(6, set(range(6)) - {i}), overrides=[f"seed={i}"])
            for i, name in enumerate(["a", "b", "c"])]
    out = tmp_path / "vote"
    proc = _odin("task=vote", f"vote.runs=[{','.join(map(str, runs))}]", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "evaluation_results.json").read_text())
    assert results["metrics"]["relation_f1"] == 1.0 and results["vote"]["min_votes"] == 2
    for run in runs:
        assert json.loads((run / "evaluation_results.json").read_text())["metrics"]["relation_f1"] < 1.0
    assert results["timing"]["generation_s"] == 6.0  # a vote costs all of its models' generation
    assert "vote of 3 runs (2 votes) on test (6 examples)" in proc.stdout  # the summary names it, not a base model
    # One vote: the union, here the same; three: only what all hold, so each run's miss is missed.
    proc = _odin("task=vote", f"vote.runs=[{','.join(map(str, runs))}]", "vote.min_votes=3",
                 f"hydra.run.dir={tmp_path / 'all'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "all" / "evaluation_results.json").read_text())["metrics"]["relation_recall"] == 0.5
    # task=compare reads the vote as a run, its list-valued override printed as text (not rich markup).
    proc = _odin("task=compare", f"compare.runs=[{out}]", f"compare.reference={runs[0]}",
                 f"hydra.run.dir={tmp_path / 'compare'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "relation F1 +" in proc.stdout
    rows = {r["run"]: r for r in csv.DictReader(open(tmp_path / "compare" / "compare.csv", encoding="utf-8"))}
    label = next(label for label in rows if "task=vote vote.runs=[" in label)
    assert float(rows[label]["relation_f1_vs_reference"]) > 0


def test_task_vote_refuses_what_cannot_be_voted_before_writing_anything(tmp_path, make_cfg):
    from odin.tasks.vote import check

    a = write_run(tmp_path / "a", _answers(4, {0}))
    b = write_run(tmp_path / "b", _answers(4, {1}))
    other = write_run(tmp_path / "other", _answers(5, {1}))  # five examples, not the same four
    cases = {
        "needs at least two evaluated runs": [f"vote.runs=[{a}]"],
        "vote.min_votes=3: between 1 and 2": [f"vote.runs=[{a},{b}]", "vote.min_votes=3"],
        r"vote.runs\[1\]=.*other was scored on other examples than vote.runs\[0\]": [f"vote.runs=[{a},{other}]"],
        r"vote.runs\[1\]=.*nowhere: no evaluation_results.json there": [f"vote.runs=[{a},{tmp_path / 'nowhere'}]"],
    }
    for message, overrides in cases.items():
        with pytest.raises(OdinError, match=message):
            check(make_cfg(["task=vote", *overrides]))
    check(make_cfg(["task=vote", f"vote.runs=[{a},{b}]"]))
