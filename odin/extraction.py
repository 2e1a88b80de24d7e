"""The core types: what odin extracts from a text.

Pure Python on purpose: the format, the metrics and every data source depend on this module, and it depends on
nothing else of odin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

ENTITY_TYPES: tuple[str, ...] = ("Drug", "Disease", "Symptom")
RELATION_TYPES: tuple[str, ...] = ("causes", "treats", "associated_with", "interacts_with")


def fold_text(text: str) -> str:
    """Text as the metric compares it: any run of whitespace is one space, case is ignored.

    The project has always scored "Acute  Renal failure" == "acute renal failure". It lowers character by character
    (no context rules such as the Greek final sigma), so the fold of a prefix is a prefix of the fold: grounded
    decoding checks an entity string while it grows. Defined here, beside `Entity.key()`, because the core types
    depend on nothing else of odin; the rest of odin takes it, and what is built on it, from `odin.format`.
    """
    spaced = " ".join(text.split())
    # ASCII has no context rules, so lowering the whole string is the same fold, 8x faster (task=compare rescores
    # every run's examples with it).
    return spaced.lower() if spaced.isascii() else "".join(map(str.lower, spaced))


@dataclass(frozen=True)
class Entity:
    text: str
    type: str

    def key(self) -> tuple[str, str]:
        return (fold_text(self.text), self.type)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Relation:
    head: str
    relation: str
    tail: str

    def key(self) -> tuple[str, str, str]:
        return (fold_text(self.head), self.relation, fold_text(self.tail))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Extraction:
    entities: tuple[Entity, ...] = field(default_factory=tuple)
    relations: tuple[Relation, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, entities=(), relations=()) -> "Extraction":
        """Build an extraction from any iterables, dropping duplicates (by scoring key) but keeping first order."""
        return cls(tuple(_unique(entities)), tuple(_unique(relations)))

    def to_dict(self) -> dict:
        return {
            "entities": [e.to_dict() for e in self.entities],
            "relations": [r.to_dict() for r in self.relations],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Extraction":
        return cls.of(
            (Entity(e["text"], e["type"]) for e in data.get("entities", [])),
            (Relation(r["head"], r["relation"], r["tail"]) for r in data.get("relations", [])),
        )

    def __bool__(self) -> bool:
        return bool(self.entities or self.relations)


def _unique(items):
    seen = set()
    for item in items:
        k = item.key()
        if k not in seen:
            seen.add(k)
            yield item
