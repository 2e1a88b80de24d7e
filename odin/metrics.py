"""Entity and relation scores from pairs of (gold, predicted) extractions.

Matching is case-insensitive exact match on (text, type) for entities and (head, relation, tail) for relations, as the
project has always scored. Three averages, named so they cannot be confused (DEFINITIONS says the same in the results
file):

- micro (`entity_f1`, the headline): TP/FP/FN pooled over all examples, then P/R/F1.
- macro (`entity_f1_macro`): P/R/F1 of each type, averaged over the types seen in gold or predictions; the usual NER
  meaning of "macro", where a rare type weighs as much as a common one.
- example_avg (`entity_f1_example_avg`): P/R/F1 of each example, averaged over examples. The original project called
  this "macro"; an example with nothing gold and nothing predicted counts as perfect (the model was right to say
  nothing).

A prediction of nothing where gold has something scores precision 0, not 1: saying nothing is not being precise.
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


DEFINITIONS: dict[str, str] = {
    "micro": "TP/FP/FN pooled over all examples, then P/R/F1; the headline entity_f1, relation_f1 and their P/R",
    "macro": "P/R/F1 of each type (those seen in gold or predictions), averaged over types: *_macro",
    "example_avg": "P/R/F1 of each example, averaged over examples (the original project's 'macro'; an example "
                   "with nothing gold and nothing predicted scores 1.0): *_example_avg",
}


def _mean(scores: Sequence[PRF], empty: float) -> PRF:
    if not scores:
        return PRF(empty, empty, empty)
    return PRF(*(sum(getattr(s, a) for s in scores) / len(scores) for a in ("precision", "recall", "f1")))


@dataclass
class TaskScores:
    """Scores for one task (entities or relations) over a corpus; the module docstring defines the three averages."""

    micro: PRF
    macro: PRF
    example_avg: PRF
    counts: Counts
    per_type: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _score_task(pairs: Sequence[tuple[set, set]], types: Sequence[str]) -> TaskScores:
    total = Counts()
    per_example: list[PRF] = []
    per_type = {t: Counts() for t in types}
    for gold, pred in pairs:
        c = count(gold, pred)
        total += c
        per_example.append(prf(c))
        # One pass over the example's keys (the type is each key's second field); a type outside `types` is left out.
        for k in gold | pred:
            t = per_type.get(k[1])
            if t is None:
                continue
            if k not in pred:
                t.fn += 1
            elif k in gold:
                t.tp += 1
            else:
                t.fp += 1
    # Only types seen in gold or predictions: an absent type would otherwise add a perfect, meaningless 1.0.
    seen = {t: c for t, c in per_type.items() if c.tp + c.fp + c.fn}
    micro = prf(total)
    return TaskScores(
        micro=micro,
        # No type seen at all means nothing gold and nothing predicted: as perfect as micro says it is.
        macro=_mean([prf(c) for c in seen.values()], empty=micro.f1),
        example_avg=_mean(per_example, empty=0.0),
        counts=total,
        per_type={t: {**asdict(prf(c)), **asdict(c), "support": c.tp + c.fn} for t, c in seen.items()},
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
        """The flat metrics a sweeper optimizes and a tracker logs, named as HEADLINE_METRICS lists them."""
        out = {f"{task}_{name}{suffix}": getattr(getattr(getattr(self, attr), avg), name)
               for task, attr in (("entity", "entities"), ("relation", "relations"))
               for avg, suffix in _AVERAGE_SUFFIX.items() for name in ("f1", "precision", "recall")}
        return {**out, "grounding_rate": self.grounding_rate}


# Metric names carry their average: `entity_f1` is micro, `entity_f1_macro` over types, `entity_f1_example_avg`
# over examples.
_AVERAGE_SUFFIX = {"micro": "", "macro": "_macro", "example_avg": "_example_avg"}
HEADLINE_METRICS: tuple[str, ...] = tuple(
    f"{task}_{name}{suffix}" for task in ("entity", "relation") for suffix in _AVERAGE_SUFFIX.values()
    for name in ("f1", "precision", "recall")) + ("grounding_rate",)


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
    entity_pairs, relation_pairs = key_pairs(golds, preds)
    return score_pairs(entity_pairs, relation_pairs,
                       grounding_rate(preds, inputs) if inputs is not None else float("nan"))


def key_pairs(golds: Sequence[Extraction], preds: Sequence[Extraction]) -> tuple[list[tuple[set, set]], ...]:
    """Each example's (gold, predicted) sets of scoring keys, for entities and for relations."""
    entity_pairs = [({e.key() for e in g.entities}, {e.key() for e in p.entities}) for g, p in zip(golds, preds)]
    relation_pairs = [({r.key() for r in g.relations}, {r.key() for r in p.relations}) for g, p in zip(golds, preds)]
    return entity_pairs, relation_pairs


def score_pairs(entity_pairs: Sequence[tuple[set, set]], relation_pairs: Sequence[tuple[set, set]],
                grounding: float) -> Scores:
    """`score` from key_pairs already made (task=compare also counts per example from the same sets)."""
    return Scores(
        entities=_score_task(entity_pairs, ENTITY_TYPES),
        relations=_score_task(relation_pairs, RELATION_TYPES),
        grounding_rate=grounding,
        num_examples=len(entity_pairs),
    )


def type_histogram(extractions: Iterable[Extraction]) -> dict[str, Counter]:
    """Entity and relation counts per type, for dataset statistics."""
    ents: Counter = Counter()
    rels: Counter = Counter()
    for x in extractions:
        ents.update(e.type for e in x.entities)
        rels.update(r.relation for r in x.relations)
    return {"entities": ents, "relations": rels}
