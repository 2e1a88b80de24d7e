"""A vote over several models' answers to the same examples (issue 12's ensemble lever).

An entity or a relation is kept when at least `min_votes` of the answers hold it, counted by the metric's key
(folded text and type: `Extraction` keys), and written as the first answer holding it wrote it. A majority of
three (two votes) keeps what two models agree on: it drops one model's extra relations (precision) and keeps a
relation that one model missed (recall). Pure: task=vote (odin/tasks/vote.py) reads the runs and scores the vote.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from odin.extraction import Extraction


def majority(n: int) -> int:
    """The fewest votes that are more than half of `n` answers."""
    return n // 2 + 1


def vote(answers: Sequence[Extraction], min_votes: int) -> Extraction:
    """What at least `min_votes` of `answers` hold, in the order the answers first wrote it."""
    if not 1 <= min_votes <= len(answers):
        raise ValueError(f"min_votes={min_votes}: needs 1 to {len(answers)} for {len(answers)} answers")

    def kept(per_answer):
        # An answer votes once for a key, however often it repeats it.
        votes = Counter(key for items in per_answer for key in {item.key() for item in items})
        return [item for items in per_answer for item in items if votes[item.key()] >= min_votes]

    # Extraction.of drops the later writings of a key: the first answer's form wins.
    return Extraction.of(kept([a.entities for a in answers]), kept([a.relations for a in answers]))
