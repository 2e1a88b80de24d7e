"""The answer grammar: the one prompt template, the output format, where an answer ends, the text fold and whether
(and where) an entity's text occurs in its input. Every other part of odin takes these from here.

Training, evaluation and prediction all build prompts with `build_prompt`, so what the model sees at inference is
byte-for-byte what it was trained on. `render` writes the answer format, `parse` reads it back and never raises;
both go through `read_line`, which grounded decoding (`odin.grounding`) uses too.

    ### Entities:
    1. [Drug] enalapril
    2. [Symptom] acute renal failure

    ### Relations:
    1. enalapril --[causes]--> acute renal failure
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

from odin.extraction import ENTITY_TYPES, RELATION_TYPES, Entity, Extraction, Relation, fold_text

__all__ = [
    "INSTRUCTION", "PROMPT_TEMPLATE", "ENTITIES_HEADER", "RELATIONS_HEADER", "NONE_FOUND", "POSTPROCESS_LEVERS",
    "build_prompt", "split_prompt", "to_record", "render", "ParseResult", "Line", "read_line", "parse",
    "is_none_found", "strip_numbering", "answer_end", "trim_answer", "fold_text", "FoldedText", "find_spans",
    "is_grounded", "postprocess", "levers_from", "read_answer",
]

INSTRUCTION = (
    "Extract the medical entities (Drug, Disease, Symptom) in the text and the relations between them "
    "(causes, treats, associated_with, interacts_with)."
)

PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
_PROMPT_HEAD, _INPUT_MARK, _RESPONSE_MARK = "### Instruction:\n", "\n\n### Input:\n", "\n\n### Response:\n"

ENTITIES_HEADER = "### Entities:"
RELATIONS_HEADER = "### Relations:"
NONE_FOUND = "None found."


# --- the prompt ----------------------------------------------------------------------------------------------------


def build_prompt(input_text: str, instruction: str = INSTRUCTION) -> str:
    """The prompt for one example; the completion (the rendered answer) follows it directly."""
    return PROMPT_TEMPLATE.format(instruction=instruction, input=input_text)


def split_prompt(prompt: str) -> tuple[str, str]:
    """(instruction, input text) of a prompt built by `build_prompt`; ValueError for any other string."""
    if not (prompt.startswith(_PROMPT_HEAD) and prompt.endswith(_RESPONSE_MARK) and _INPUT_MARK in prompt):
        raise ValueError("not a prompt built by odin.format.build_prompt: " + prompt[:80].replace("\n", "\\n"))
    instruction, _, rest = prompt[len(_PROMPT_HEAD):].partition(_INPUT_MARK)
    return instruction, rest[: -len(_RESPONSE_MARK)]


def to_record(input_text: str, extraction: Extraction, instruction: str = INSTRUCTION) -> dict[str, str]:
    """An Alpaca record (instruction / input / output), the on-disk form of every prepared example."""
    return {
        "instruction": instruction,
        "input": input_text,
        "output": render(extraction.entities, extraction.relations),
    }


# --- render and parse ----------------------------------------------------------------------------------------------


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


# A line's numbering: "1. ", "2) ", "- ", "* " (models trained on other formats write bullets).
NUMBER = r"(?:\d+\s*[.)]\s*|[-*]\s+)?"
_NUMBERING = re.compile(rf"^\s*{NUMBER}")
_ENTITY_LINE = re.compile(rf"^{NUMBER}\[\s*([^\]]+?)\s*\]\s*(.+?)\s*$")
_RELATION_LINE = re.compile(rf"^{NUMBER}(.+?)\s*--\s*\[\s*([^\]]+?)\s*\]\s*-+>\s*(.+?)\s*$")
_HEADER = re.compile(r"^#{2,}\s*(\w+)\s*:?\s*$")
SECTIONS = ("entities", "relations")

_ENTITY_TYPE_BY_KEY = {t.lower(): t for t in ENTITY_TYPES}
_RELATION_TYPE_BY_KEY = {t.lower(): t for t in RELATION_TYPES}


def _relation_key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def is_none_found(line: str) -> bool:
    """Whether a (stripped) line is the empty-section marker, with or without its full stop, in any case."""
    return line.rstrip(".").lower() == NONE_FOUND.rstrip(".").lower()


def strip_numbering(line: str) -> str:
    return _NUMBERING.sub("", line, count=1)


class Line(NamedTuple):
    """What one line of an answer says: kind is "skip" (blank, "None found."), "header" (value: its lowercased
    name), "entity" (an Entity), "relation" (a Relation) or "error" (value: why it could not be read)."""

    kind: str
    value: object = None


_SKIP = Line("skip")


def read_line(line: str, section: str | None) -> Line:
    """Read one line as `parse` does in `section`: None before any header (either shape is read), "entities" or
    "relations" (only that section's shape). Never raises."""
    line = line.strip()
    if not line or is_none_found(line):
        return _SKIP
    header = _HEADER.match(line)
    if header:
        return Line("header", header.group(1).lower())
    if section != "entities" and (m := _RELATION_LINE.match(line)):
        head, rel, tail = m.groups()
        rel_type = _RELATION_TYPE_BY_KEY.get(_relation_key(rel))
        if rel_type is None:
            return Line("error", f"unknown relation type {rel!r}: {line}")
        return Line("relation", Relation(head, rel_type, tail))
    if section != "relations" and (m := _ENTITY_LINE.match(line)):
        etype, etext = m.groups()
        canonical = _ENTITY_TYPE_BY_KEY.get(etype.lower())
        if canonical is None:
            return Line("error", f"unknown entity type {etype!r}: {line}")
        return Line("entity", Entity(etext, canonical))
    return Line("error", f"unreadable line in {section or 'answer'}: {line}")


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
    # Lines end at "\n" only, as answers are written and generated (not at the other breaks splitlines knows).
    for raw in text.split("\n"):
        kind, value = read_line(raw, section)
        if kind == "header":
            if value not in SECTIONS:
                break
            section = value
        elif kind == "entity":
            entities.append(value)
        elif kind == "relation":
            relations.append(value)
        elif kind == "error":
            errors.append(value)
    return ParseResult(Extraction.of(entities, relations), tuple(errors))


# --- where an answer ends in generated text --------------------------------------------------------------------------

# A complete header line ("### Input:" or "### Input" + newline); a half-generated "### Rel" does not match yet.
_HEADER_LINE = re.compile(r"^[ \t]*#{2,}[ \t]*(\w+)[ \t]*(?::|\n)", re.MULTILINE)
_RELATIONS_HEADER = re.compile(r"^[ \t]*#{2,}[ \t]*relations\b[ \t]*:?", re.MULTILINE | re.IGNORECASE)
# After the Relations section has started: a blank line or a new header ends it.
_SECTION_END = re.compile(r"\n[ \t]*\n|\n[ \t]*#")
# A relation line holds one arrow. A second on the same line ("a --[causes]--> b --[associated with]--> b --[...")
# is a loop within the line that never reaches a newline; cutting before it keeps the first, well-formed relation.
_SECOND_ARROW = re.compile(r"--\s*\[[^\]\n]*\]\s*-+>[^\n]*?(\s*--\s*\[)")


def answer_end(text: str) -> int | None:
    """Where the answer format ends in generated text (an index to cut at), or None while it may go on.

    It ends at a blank line or a new header once the Relations section has content; at any header that is not
    Entities/Relations (the model running on into e.g. "### Input:"), which `parse` would not read anyway; at the
    first complete line that repeats an earlier one (numbering aside): greedy decoding that repeats a line is in a
    loop that would run to max_new_tokens, and the parser drops duplicates, so nothing scored is lost; or at a second
    arrow on one relation line, a loop within the line.
    """
    ends = []
    rel = _RELATIONS_HEADER.search(text)
    if rel:
        # Skip the newline(s) right after the header: the section needs a first line before a blank one can end it.
        first = len(text) - len(text[rel.end():].lstrip())
        if first < len(text):
            end = _SECTION_END.search(text, first)
            if end:
                ends.append(end.start())
    for header in _HEADER_LINE.finditer(text):
        if header.group(1).lower() not in SECTIONS:
            ends.append(header.start())
            break
    repeat = _first_repeated_line(text)
    if repeat is not None:
        ends.append(repeat)
    chained = _SECOND_ARROW.search(text)
    if chained:
        ends.append(chained.start(1))
    return min(ends) if ends else None


def _first_repeated_line(text: str) -> int | None:
    """Start of the first complete line whose content (numbering, case and spacing aside) came before."""
    seen: set[str] = set()
    pos = 0
    for line in text.split("\n")[:-1]:  # the last line is still being generated
        content = fold_text(strip_numbering(line))
        if content and not content.startswith("#") and not is_none_found(content):
            if content in seen:
                return pos
            seen.add(content)
        pos += len(line) + 1
    return None


def trim_answer(text: str) -> str:
    end = answer_end(text)
    return (text if end is None else text[:end]).strip()


# --- grounding: is an entity's text in the input, and where ---------------------------------------------------------


class FoldedText:
    """An input text as the metric reads it (`fold_text`), folded once and asked about many entity strings."""

    def __init__(self, text: str):
        self.text = text
        self.folded = fold_text(text)
        self._offsets: list[int] | None = None

    def contains(self, entity_text: str) -> bool:
        """The grounding check: the entity's folded text occurs in the folded input (as `grounding_rate` counts)."""
        return fold_text(entity_text) in self.folded

    def _origin(self) -> list[int]:
        # For each character of `folded`, the index in `text` it came from (a space: the first of its whitespace run).
        if self._offsets is None:
            offsets: list[int] = []
            run_start = None
            for i, ch in enumerate(self.text):
                if ch.isspace():  # the predicate str.split() uses, so this walk folds exactly as fold_text does
                    if run_start is None and offsets:
                        run_start = i
                    continue
                if run_start is not None:
                    offsets.append(run_start)
                    run_start = None
                offsets.extend([i] * len(ch.lower()))
            self._offsets = offsets
        return self._offsets

    def _span(self, start: int, end: int) -> tuple[int, int]:
        origin = self._origin()
        return origin[start], origin[end - 1] + 1

    def spans(self, entity_text: str) -> list[tuple[int, int]]:
        """Character spans in `text` of every non-overlapping occurrence of the entity, folded as the metric folds."""
        needle = fold_text(entity_text)
        if not needle:
            return []
        found, at = [], self.folded.find(needle)
        while at != -1:
            found.append(self._span(at, at + len(needle)))
            at = self.folded.find(needle, at + len(needle))
        return found

    def span_ignoring_spaces(self, entity_text: str) -> tuple[int, int] | None:
        """The first span whose text equals the entity's when all spaces are dropped ("FVIII" for "F VIII")."""
        needle = fold_text(entity_text).replace(" ", "")
        if not needle:
            return None
        kept = [i for i, ch in enumerate(self.folded) if ch != " "]
        at = "".join(self.folded[i] for i in kept).find(needle)
        if at == -1:
            return None
        return self._span(kept[at], kept[at + len(needle) - 1] + 1)


def is_grounded(entity_text: str, text: str) -> bool:
    """Whether the entity's text occurs in `text`, case and whitespace folded as the metric folds."""
    return FoldedText(text).contains(entity_text)


def find_spans(needle: str, text: str) -> list[tuple[int, int]]:
    """Character spans of every non-overlapping occurrence of `needle` in `text`, case-insensitively, where any run
    of whitespace in the needle matches any run in the text: exactly where `is_grounded` finds it."""
    return FoldedText(text).spans(needle)


# --- post-processing of a parsed answer ------------------------------------------------------------------------------

# The switches of `postprocess`, in the order it applies them (config: generation.postprocess.<name>).
POSTPROCESS_LEVERS = ("snap_to_text", "dedupe", "drop_unlisted_relations")


def postprocess(extraction: Extraction, text: str, *, snap_to_text: bool = False, dedupe: bool = False,
                drop_unlisted_relations: bool = False) -> Extraction:
    """A parsed answer, cleaned by the levers that are on. Entities and relations are compared by `fold_text`.

    - snap_to_text: each entity is written as the input writes it (its first span there, whitespace collapsed); one
      that the metric's fold does not find but that occurs once spaces are ignored ("FVIII" for "F VIII") takes that
      span. Relation ends naming a rewritten entity follow it.
    - dedupe: one type per entity text and one relation per pair of entities (either direction): the first wins.
      Exact duplicates are always dropped by `parse`.
    - drop_unlisted_relations: a relation whose head or tail is not among the answer's entities is dropped.
    """
    entities, relations = list(extraction.entities), list(extraction.relations)
    if snap_to_text:
        source = FoldedText(text)
        renamed: dict[str, str] = {}
        for i, e in enumerate(entities):
            spans = source.spans(e.text)
            span = spans[0] if spans else source.span_ignoring_spaces(e.text)
            if span is not None:
                written = " ".join(text[span[0]:span[1]].split())
                renamed.setdefault(fold_text(e.text), written)
                entities[i] = Entity(written, e.type)
        def name(text: str) -> str:
            return renamed.get(fold_text(text), text)

        relations = [Relation(name(r.head), r.relation, name(r.tail)) for r in relations]
    if dedupe:
        entities = _first_by(entities, lambda e: fold_text(e.text))
        relations = _first_by(relations, lambda r: frozenset((fold_text(r.head), fold_text(r.tail))))
    if drop_unlisted_relations:
        listed = {fold_text(e.text) for e in entities}
        relations = [r for r in relations if fold_text(r.head) in listed and fold_text(r.tail) in listed]
    return Extraction.of(entities, relations)


def _first_by(items: list, key) -> list:
    seen: set = set()
    return [item for item in items if not (key(item) in seen or seen.add(key(item)))]


def levers_from(config) -> dict[str, bool]:
    """The post-processing switches from a config node holding them (generation.postprocess)."""
    return {name: bool(getattr(config, name)) for name in POSTPROCESS_LEVERS}


def read_answer(generation: str, text: str, **levers: bool) -> ParseResult:
    """A model's answer to `text` as evaluation scores it and prediction writes it: parsed, then post-processed by
    the levers that are on. Never raises."""
    parsed = parse(generation)
    if not any(levers.values()):
        return parsed
    return ParseResult(postprocess(parsed.extraction, text, **levers), parsed.errors)
