"""The one prompt template and the output format the model learns and the parser reads.

Training, evaluation and prediction all build prompts with `build_prompt`, so what the model sees at inference is
byte-for-byte what it was trained on. `render` writes the answer format, `parse` reads it back and never raises.

    ### Entities:
    1. [Drug] enalapril
    2. [Symptom] acute renal failure

    ### Relations:
    1. enalapril --[causes]--> acute renal failure
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from odin.extraction import ENTITY_TYPES, RELATION_TYPES, Entity, Extraction, Relation

INSTRUCTION = (
    "Extract the medical entities (Drug, Disease, Symptom) in the text and the relations between them "
    "(causes, treats, associated_with, interacts_with)."
)

PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"

ENTITIES_HEADER = "### Entities:"
RELATIONS_HEADER = "### Relations:"
NONE_FOUND = "None found."


def build_prompt(input_text: str, instruction: str = INSTRUCTION) -> str:
    """The prompt for one example; the completion (the rendered answer) follows it directly."""
    return PROMPT_TEMPLATE.format(instruction=instruction, input=input_text)


def to_record(input_text: str, extraction: Extraction, instruction: str = INSTRUCTION) -> dict[str, str]:
    """An Alpaca record (instruction / input / output), the on-disk form of every prepared example."""
    return {
        "instruction": instruction,
        "input": input_text,
        "output": render(extraction.entities, extraction.relations),
    }


def render(entities: Iterable[Entity], relations: Iterable[Relation] = ()) -> str:
    entities, relations = list(entities), list(relations)
    lines = [ENTITIES_HEADER]
    lines += [f"{i}. [{e.type}] {e.text}" for i, e in enumerate(entities, 1)] or [NONE_FOUND]
    lines += ["", RELATIONS_HEADER]
    lines += [f"{i}. {r.head} --[{r.relation}]--> {r.tail}" for i, r in enumerate(relations, 1)] or [NONE_FOUND]
    return "\n".join(lines)


@dataclass(frozen=True)
class ParseResult:
    extraction: Extraction
    # Lines that looked like content but could not be read, with the reason, e.g. "unknown entity type 'Gene': ...".
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def entities(self) -> tuple[Entity, ...]:
        return self.extraction.entities

    @property
    def relations(self) -> tuple[Relation, ...]:
        return self.extraction.relations

    @property
    def ok(self) -> bool:
        return not self.errors


_NUMBER = r"(?:\d+\s*[.)]\s*|[-*]\s+)?"
_ENTITY_LINE = re.compile(rf"^{_NUMBER}\[\s*([^\]]+?)\s*\]\s*(.+?)\s*$")
_RELATION_LINE = re.compile(rf"^{_NUMBER}(.+?)\s*--\s*\[\s*([^\]]+?)\s*\]\s*-+>\s*(.+?)\s*$")
_HEADER = re.compile(r"^#{2,}\s*(\w+)\s*:?\s*$")

_ENTITY_TYPE_BY_KEY = {t.lower(): t for t in ENTITY_TYPES}
_RELATION_TYPE_BY_KEY = {t.lower(): t for t in RELATION_TYPES}


def _relation_key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def parse(text: str) -> ParseResult:
    """Read entities and relations from a model's answer. Never raises.

    Keeps every line it can read from messy or truncated output, drops duplicates, and lists the lines it could not
    read in `errors`. Stops at a header it does not know (a model that runs on into a new "### Input:").
    """
    if not isinstance(text, str):
        return ParseResult(Extraction(), (f"not a string: {type(text).__name__}",))
    entities: list[Entity] = []
    relations: list[Relation] = []
    errors: list[str] = []
    section = None  # None before any header: accept lines of either shape
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.rstrip(".").lower() == NONE_FOUND.rstrip(".").lower():
            continue
        header = _HEADER.match(line)
        if header:
            name = header.group(1).lower()
            if name in ("entities", "relations"):
                section = name
                continue
            break
        if section != "entities" and (m := _RELATION_LINE.match(line)):
            head, rel, tail = m.groups()
            rel_type = _RELATION_TYPE_BY_KEY.get(_relation_key(rel))
            if rel_type is None:
                errors.append(f"unknown relation type {rel!r}: {line}")
            else:
                relations.append(Relation(head, rel_type, tail))
        elif section != "relations" and (m := _ENTITY_LINE.match(line)):
            etype, etext = m.groups()
            canonical = _ENTITY_TYPE_BY_KEY.get(etype.lower())
            if canonical is None:
                errors.append(f"unknown entity type {etype!r}: {line}")
            else:
                entities.append(Entity(etext, canonical))
        else:
            errors.append(f"unreadable line in {section or 'answer'}: {line}")
    return ParseResult(Extraction.of(entities, relations), tuple(errors))
