"""Inputs longer than `data.max_tokens` (counted with the model's tokenizer): cut into sentence windows, or dropped.

Chunking splits a text into sentences, never inside an entity mention, and packs consecutive sentences into
windows that fit the limit. A window keeps the entities whose text occurs in it and the relations whose head and
tail both occur in it; a relation whose head and tail fall in different windows is lost, and counted. Chunks keep
their document's `doc_id` (so the split stays grouped) and get ids `<example id>#chunk<k>`.

Token counts come from a function `count_tokens(texts) -> counts` so this module needs no tokenizer itself; the
prepare task passes one built on the configured model's fast tokenizer, which counts a whole list in one call.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import replace
from typing import Callable, Sequence

from odin.data.example import Example
from odin.errors import OdinError
from odin.extraction import Extraction

log = logging.getLogger(__name__)

TokenCounter = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! or ? (maybe followed by a closing quote or bracket), then whitespace, then something
# that starts a sentence: a capital, a digit or an opening bracket/quote.
_BOUNDARY = re.compile(r"[.!?][\"')\]]*(\s+)(?=[\"'(\[]?[A-Z0-9])")
# Words whose trailing period is not a sentence end.
_ABBREVIATIONS = {"e.g", "i.e", "vs", "al", "fig", "figs", "dr", "mr", "mrs", "ms", "no", "approx", "ca", "cf",
                  "resp", "st", "vol", "ref", "refs", "inc", "ltd", "co", "jr", "sr", "prof", "etc"}
_WORD_BEFORE = re.compile(r"(\S+)$")


def sentence_spans(text: str, mentions: Sequence[str] = ()) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace excluded; no boundary falls inside an occurrence of a mention."""
    protected = []
    for mention in set(mentions):
        if mention:
            start = text.find(mention)
            while start != -1:
                protected.append((start, start + len(mention)))
                start = text.find(mention, start + 1)
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end, next_start = m.start(1), m.end(1)
        word = _WORD_BEFORE.search(text[start:m.start() + 1])
        token = word.group(1).strip(".!?\"'()[]").lower() if word else ""
        if text[m.start()] == "." and (token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token)):
            continue
        if any(s < next_start and e > m.start() for s, e in protected):
            continue
        spans.append((start, end))
        start = next_start
    spans.append((start, len(text.rstrip())))
    return [(s, e) for s, e in spans if e > s]


def fit_to_length(
    examples: list[Example], max_tokens: int, long_inputs: str, count_tokens: TokenCounter
) -> tuple[list[Example], Counter]:
    """Examples that fit `max_tokens` unchanged; longer ones chunked (`long_inputs=chunk`) or dropped (`drop`)."""
    if max_tokens <= 0:
        raise OdinError(f"data.max_tokens={max_tokens}: must be a positive number of tokens")
    if long_inputs not in ("chunk", "drop"):
        raise OdinError(f"data.long_inputs={long_inputs!r}: must be chunk or drop")
    if not examples:
        return [], Counter()
    counts = count_tokens([ex.text for ex in examples])
    out: list[Example] = []
    long: list[Example] = []
    report: Counter = Counter()
    for ex, n in zip(examples, counts):
        (out if n <= max_tokens else long).append(ex)
    if not long:
        return out, report
    if long_inputs == "drop":
        report[f"input over max_tokens={max_tokens} (long_inputs=drop)"] += len(long)
        return out, report

    log.info("%d inputs over max_tokens=%d: chunking them into sentence windows", len(long), max_tokens)
    windows: list[tuple[Example, list[tuple[int, int]]]] = []  # (example, its sentence spans in one window)
    pending = []
    for ex in long:
        spans = sentence_spans(ex.text, [e.text for e in ex.extraction.entities])
        pending.append((ex, spans))
    sentence_counts = count_tokens([ex.text[s:e] for ex, spans in pending for s, e in spans])
    it = iter(sentence_counts)
    for ex, spans in pending:
        windows += [(ex, w) for w in _pack(spans, [next(it) for _ in spans], max_tokens)]

    # Packing adds sentence counts; a joined window can tokenize a little differently, so check the real count and
    # halve any window still over the limit. A single sentence over the limit cannot be chunked: it is dropped.
    final: list[tuple[Example, list[tuple[int, int]]]] = []
    while windows:
        real = count_tokens([_window_text(ex, w) for ex, w in windows])
        retry = []
        for (ex, w), n in zip(windows, real):
            if n <= max_tokens:
                final.append((ex, w))
            elif len(w) > 1:
                retry += [(ex, w[: len(w) // 2]), (ex, w[len(w) // 2:])]
            else:
                report[f"sentence over max_tokens={max_tokens}: dropped from its chunked document"] += 1
        windows = retry
    by_id: dict[str, list[Example]] = {}
    for ex, w in sorted(final, key=lambda item: (item[0].id, item[1][0][0])):
        chunks = by_id.setdefault(ex.id, [])
        chunks.append(_chunk(ex, w, len(chunks) + 1))

    for ex in long:
        chunks = by_id.get(ex.id, [])
        out.extend(chunks)
        kept_relations = {r.key() for c in chunks for r in c.extraction.relations}
        kept_entities = {e.key() for c in chunks for e in c.extraction.entities}
        lost_r = sum(r.key() not in kept_relations for r in ex.extraction.relations)
        lost_e = sum(e.key() not in kept_entities for e in ex.extraction.entities)
        if lost_r:
            report["relation lost in chunking (head and tail in different chunks)"] += lost_r
        if lost_e:
            report["entity lost in chunking (in a dropped over-long sentence)"] += lost_e
    return out, report


def _pack(spans: list[tuple[int, int]], counts: list[int], max_tokens: int) -> list[list[tuple[int, int]]]:
    """Greedy windows of consecutive sentences whose counts (plus one per join) stay within max_tokens."""
    windows: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    total = 0
    for span, n in zip(spans, counts):
        if current and total + 1 + n > max_tokens:
            windows.append(current)
            current, total = [], 0
        total += n + (1 if current else 0)
        current.append(span)
    if current:
        windows.append(current)
    return windows


def _window_text(ex: Example, window: list[tuple[int, int]]) -> str:
    return ex.text[window[0][0]: window[-1][1]]


def _chunk(ex: Example, window: list[tuple[int, int]], k: int) -> Example:
    text = _window_text(ex, window)
    lowered = text.lower() if len(text.lower()) == len(text) else None
    entities = [replace(e, text=m) for e in ex.extraction.entities if (m := _written(e.text, text, lowered))]
    relations = []
    for r in ex.extraction.relations:
        head, tail = _written(r.head, text, lowered), _written(r.tail, text, lowered)
        if head and tail:
            relations.append(replace(r, head=head, tail=tail))
    return replace(ex, id=f"{ex.id}#chunk{k}", text=text, extraction=Extraction.of(entities, relations))


def _written(mention: str, text: str, lowered: str | None) -> str | None:
    """How `text` writes `mention`: itself, or (since entities are one per case-insensitive key) a case variant
    such as the sentence-initial "Warfarin" of a document whose entity list kept "warfarin"."""
    if mention in text:
        return mention
    if lowered is not None and (i := lowered.find(mention.lower())) >= 0:
        return text[i: i + len(mention)]
    return None
