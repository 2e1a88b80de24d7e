"""The order of entities and relations in a target answer (`data.label_order`), one rule for every source.

A source lists what it read in the corpus' own order ("annotated": DRUG-AE.rel's rows, a PubTator file's mentions and
relations, a generator's slots). The prepare pipeline then applies the configured order to every split, so all
sources, the synthetic notes `data.synthetic_ratio` adds and user files follow one rule:

- `text` (the default): entities by where they first occur in the input, relations by where their head and then their
  tail first occur; ties keep the annotated order. A model reads the input left to right and writes the answer in the
  same direction, so it can walk the text instead of recalling the annotator's order.
- `annotated`: the source's order, untouched.

Where an entity "first occurs" is its first whole-word occurrence (so "alum" is not found inside "aluminum"), else its
first occurrence inside a word; both ignore case, as the metric does; an entity not in the text at all sorts after
those that are. Pure: no odin imports beyond the core types.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable

from odin.extraction import Extraction

if TYPE_CHECKING:
    from odin.data.example import Example

LABEL_ORDERS = ("text", "annotated")


def first_occurrence(text: str, mention: str) -> int:
    """Where `mention` first occurs in `text` (see the module docstring); len(text) + 1 when it does not."""
    if not mention:
        return len(text) + 1
    escaped = re.escape(mention)
    for pattern in (rf"(?<!\w){escaped}(?!\w)", escaped):
        found = re.search(pattern, text, re.IGNORECASE)
        if found is not None:
            return found.start()
    return len(text) + 1


def in_text_order(text: str, extraction: Extraction) -> Extraction:
    """`extraction` with entities and relations sorted by their first occurrence in `text` (stable)."""
    positions: dict[str, int] = {}

    def pos(mention: str) -> int:
        if mention not in positions:
            positions[mention] = first_occurrence(text, mention)
        return positions[mention]

    entities = sorted(extraction.entities, key=lambda e: pos(e.text))
    relations = sorted(extraction.relations, key=lambda r: (pos(r.head), pos(r.tail)))
    return Extraction(tuple(entities), tuple(relations))


def apply_label_order(examples: Iterable[Example], order: str) -> list[Example]:
    """Every example with its labels in `order` (text | annotated)."""
    if order not in LABEL_ORDERS:
        raise ValueError(f"label order {order!r}: expected one of {', '.join(LABEL_ORDERS)}")
    if order == "annotated":
        return list(examples)
    return [replace(ex, extraction=in_text_order(ex.text, ex.extraction)) for ex in examples]
