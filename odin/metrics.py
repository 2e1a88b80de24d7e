"""Entity and relation scores from pairs of (gold, predicted) extractions.

Matching is case-insensitive exact match on (text, type) for entities and (head, relation, tail) for relations, as the
project has always scored. Micro scores pool TP/FP/FN over all examples; macro scores average per-example P/R/F1
(an example with nothing gold and nothing predicted counts as perfect, since the model was right to say nothing).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

from odin.extraction import ENTITY_TYPES, RELATION_TYPES, Extraction
from odin.format import FoldedText


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __iadd__(self, other: "Counts") -> "Counts":
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self


@dataclass
class PRF:
    precision: float
    recall: float
    f1: float


def prf(c: Counts) -> PRF:
    """Precision, recall, F1 from counts. Nothing predicted and nothing gold scores 1.0: there was nothing to miss."""
    precision = c.tp / (c.tp + c.fp) if c.tp + c.fp else (1.0 if c.fn == 0 else 0.0)
    recall = c.tp / (c.tp + c.fn) if c.tp + c.fn else (1.0 if c.fp == 0 else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def count(gold: Iterable, pred: Iterable) -> Counts:
    """TP/FP/FN between two collections of scoring keys (duplicates count once)."""
    g, p = set(gold), set(pred)
    return Counts(tp=len(g & p), fp=len(p - g), fn=len(g - p))


@dataclass
class TaskScores:
    """Scores for one task (entities or relations) over a corpus."""

    micro: PRF
    macro: PRF
    counts: Counts
    per_type: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _score_task(pairs: Sequence[tuple[set, set]], types: Sequence[str], type_of) -> TaskScores:
    total = Counts()
    per_example: list[PRF] = []
    per_type = {t: Counts() for t in types}
    for gold, pred in pairs:
        c = count(gold, pred)
        total += c
        per_example.append(prf(c))
        for t in types:
            per_type[t] += count((k for k in gold if type_of(k) == t), (k for k in pred if type_of(k) == t))
    n = len(per_example)
    macro = PRF(*(sum(getattr(s, a) for s in per_example) / n if n else 0.0 for a in ("precision", "recall", "f1")))
    return TaskScores(
        micro=prf(total),
        macro=macro,
        counts=total,
        # Only types seen in gold or predictions: an absent type would otherwise show a perfect, meaningless 1.0.
        per_type={t: {**asdict(prf(c)), **asdict(c), "support": c.tp + c.fn}
                  for t, c in per_type.items() if c.tp + c.fp + c.fn},
    )


@dataclass
class Scores:
    entities: TaskScores
    relations: TaskScores
    grounding_rate: float
    num_examples: int

    def to_dict(self) -> dict:
        return {
            "num_examples": self.num_examples,
            "entities": self.entities.to_dict(),
            "relations": self.relations.to_dict(),
            "grounding_rate": self.grounding_rate,
        }

    def headline(self) -> dict[str, float]:
        """The flat metrics a sweeper optimizes and a tracker logs."""
        return {
            "entity_f1": self.entities.micro.f1,
            "entity_precision": self.entities.micro.precision,
            "entity_recall": self.entities.micro.recall,
            "relation_f1": self.relations.micro.f1,
            "relation_precision": self.relations.micro.precision,
            "relation_recall": self.relations.micro.recall,
            "entity_f1_macro": self.entities.macro.f1,
            "relation_f1_macro": self.relations.macro.f1,
            "grounding_rate": self.grounding_rate,
        }


def grounding_rate(preds: Sequence[Extraction], inputs: Sequence[str]) -> float:
    """Share of predicted entity strings found in their input text (`odin.format.FoldedText.contains`: case and
    whitespace folded as entities are scored); 1.0 when none predicted."""
    found = total = 0
    for pred, text in zip(preds, inputs, strict=True):
        source = FoldedText(text)
        for e in pred.entities:
            total += 1
            found += source.contains(e.text)
    return found / total if total else 1.0


def score(golds: Sequence[Extraction], preds: Sequence[Extraction], inputs: Sequence[str] | None = None) -> Scores:
    if len(golds) != len(preds):
        raise ValueError(f"score() needs one prediction per gold example: got {len(golds)} gold, {len(preds)} predicted")
    entity_pairs = [({e.key() for e in g.entities}, {e.key() for e in p.entities}) for g, p in zip(golds, preds)]
    relation_pairs = [({r.key() for r in g.relations}, {r.key() for r in p.relations}) for g, p in zip(golds, preds)]
    return Scores(
        entities=_score_task(entity_pairs, ENTITY_TYPES, lambda k: k[1]),
        relations=_score_task(relation_pairs, RELATION_TYPES, lambda k: k[1]),
        grounding_rate=grounding_rate(preds, inputs) if inputs is not None else float("nan"),
        num_examples=len(golds),
    )


def type_histogram(extractions: Iterable[Extraction]) -> dict[str, Counter]:
    """Entity and relation counts per type, for dataset statistics."""
    ents: Counter = Counter()
    rels: Counter = Counter()
    for x in extractions:
        ents.update(e.type for e in x.entities)
        rels.update(r.relation for r in x.relations)
    return {"entities": ents, "relations": rels}
