"""Grounded decoding: a logits processor that keeps an answer grounded in its input while it is generated.

Entity text may only be a span of the input, folded as the metric folds (`odin.format.fold_text`: case and
whitespace). Where a relation's head and tail may come from is the `relations` mode (generation.grounded_relations):
- "listed": only entities already listed in the answer's Entities section; the model is steered to a listed name;
- "input": any span of the input, folded the same way, listed or not: the metric scores a relation by its ends' text,
  so a drug the model forgot to list is still a right head.
Lines are read with `odin.format.read_line`, the parser's own line reader, so what is allowed is what `parse` and the
metric read.

Greedy output is unchanged wherever it already complies: the model's own choice is checked first and kept when it
is allowed; otherwise the next candidates are checked, best first, and the first allowed one is taken. Sampling
draws from the allowed tokens among its `top_k` candidates (the best allowed token when none of them is).

An answer is followed line by line. A closed line (one a newline ended) must read, as `parse` reads it, as a
grounded entity, a relation the mode allows, or anything else `parse` does not score (a header, "None found.", a line
it reports as unreadable). The open line must be able to become such a line:
- in the Entities section, and before any header, the entity text so far is in the input: the fold of a prefix is a
  prefix of the fold, so each step keeps it a span;
- in the Relations section it is a header, "None found.", or a relation line whose head and tail are, so far,
  prefixes of listed entities ("listed": the model is steered to a listed entity's text rather than left to write
  an unlisted one) or spans of the input ("input"); and there a line closes (or the answer ends) only once it is
  such a line, not half written. Before any header, where `parse` reads relation lines too, the same holds.
End of sequence is allowed only where the open line may close. After a header `parse` does not know it reads
nothing more, so nothing is constrained.
"""

from __future__ import annotations

import functools

import regex

from odin.format import NUMBER, SECTIONS, FoldedText, fold_text, read_line

# What a decode shows for the bytes of a character whose remaining bytes are still to come.
_PENDING = "\ufffd"

# Where a relation's head and tail may come from (generation.grounded_relations): see the module docstring.
RELATION_ENDS = ("listed", "input")

# The other lines a Relations section may hold: a header, "None found.".
_OTHER_LINE = r"\#.*|none\ found\.*"
_OTHER = regex.compile(rf"\s*(?:{_OTHER_LINE})?\s*", regex.IGNORECASE)
# A relation line with any head and tail ("input" mode checks them against the input). The head is the shortest
# text before an arrow, as `read_line` reads it: "IFN-beta" holds a '-' but no "--[", so it stays whole, and a head
# cut at a partly written arrow ("IFN-") is a prefix of any longer reading, so the check on it is never stricter.
_ANY_RELATION = regex.compile(rf"\s*{NUMBER}(?P<head>.*?)\s*--\s*\[[^\]]+\]\s*-+>\s*(?P<tail>.*?)\s*",
                              regex.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _relation_patterns(entities: frozenset[str]):
    """(a relation line between listed entities, any line the Relations section may hold), matched partially."""
    if not entities:
        return None, _OTHER
    # Longest first, so that a name is not cut short by another that is its prefix.
    names = "|".join(r"\s+".join(regex.escape(word) for word in name.split(" "))
                     for name in sorted(entities, key=lambda n: (-len(n), n)))
    relation = rf"{NUMBER}(?:{names})\s*--\s*\[[^\]]+\]\s*-+>\s*(?:{names})"
    return (regex.compile(rf"\s*{relation}\s*", regex.IGNORECASE),
            regex.compile(rf"\s*(?:{relation}|{_OTHER_LINE})?\s*", regex.IGNORECASE))


class GroundedAnswer:
    """The grounding constraint for one answer, on text: which continuations it allows, and whether it may end."""

    def __init__(self, source_text: str, relations: str = "listed"):
        if relations not in RELATION_ENDS:
            raise ValueError(f"grounded relations {relations!r}: expected one of {', '.join(RELATION_ENDS)}")
        self.relations = relations  # where a relation's head and tail may come from (RELATION_ENDS)
        self.source = FoldedText(source_text)
        self.section: str | None = None
        self.entities: frozenset[str] = frozenset()  # folded texts of the entities listed so far
        self.free = False  # past a header parse does not know: nothing after it is read
        self.line = ""  # the open line
        # The characters a pending multi-byte character may turn out to be: the input's own, in either case.
        self._wide = sorted({v for ch in set(source_text) if ord(ch) > 127 for v in (ch, ch.lower(), ch.upper())
                             if len(v) == 1})

    def accepts(self, text: str) -> bool:
        """Whether the open line may become `text` (written from the open line's start; a newline closes a line)."""
        if self.free:
            return True
        *closed, last = text.split("\n")
        section, entities = self.section, self.entities
        for line in closed:
            ok, section, entities, free = self._close(line, section, entities)
            if not ok:
                return False
            if free:
                return True
        if last.endswith(_PENDING):
            # A character whose bytes are still to come (one replacement character stands for them all): allowed if
            # it can still become one that keeps the line grounded.
            return any(self._open_ok(last[:-1] + ch, section, entities) for ch in self._wide)
        return self._open_ok(last, section, entities)

    def advance(self, text: str) -> None:
        """The open line is now `text`: the lines before its last newline are closed."""
        if self.free:
            return
        *closed, last = text.split("\n")
        for line in closed:
            _, self.section, self.entities, self.free = self._close(line, self.section, self.entities)
            if self.free:
                return
        self.line = last

    def may_end(self) -> bool:
        """Whether the answer may end here, with its open line read as it stands."""
        return self.free or self._close(self.line, self.section, self.entities)[0]

    def _close(self, line: str, section, entities):
        """(allowed, section, entities, free) after closing `line`."""
        kind, value = read_line(line, section)
        if kind == "header":
            return True, value if value in SECTIONS else section, entities, value not in SECTIONS
        if kind == "entity":
            name = fold_text(value.text)
            return name in self.source.folded, section, entities | {name}, False
        if kind == "relation":
            head, tail = fold_text(value.head), fold_text(value.tail)
            if self.relations == "input":
                ok = bool(head and tail) and head in self.source.folded and tail in self.source.folded
            else:
                ok = head in entities and tail in entities
            return ok, section, entities, False
        if section == "relations" and kind == "error":
            # Closed there, a line the open-line rule let grow ("1. " before a head the model could not write
            # grounded) is no relation: a model held back from an unlisted head otherwise wrote "1. \n2. \n..." up
            # to max_new_tokens (seen on the GPU: 5 of 421 ADE answers). It must go on to an end the mode allows.
            return False, section, entities, False
        return True, section, entities, False

    def _open_ok(self, line: str, section, entities) -> bool:
        if section == "relations":
            if self.relations == "input":
                return _OTHER.fullmatch(line, partial=True) is not None or self._input_relation_ok(line)
            return _relation_patterns(entities)[1].fullmatch(line, partial=True) is not None
        if self._close(line, section, entities)[0]:
            return True
        # In input mode a relation that can still grow grounded already closes grounded (the fold of a prefix of a
        # span is a span), and an unreadable line may close before any header.
        if section is not None or self.relations == "input" or not entities:
            return False
        # Before any header parse reads relation lines too: one may grow towards listed entities there as well.
        return _relation_patterns(entities)[0].fullmatch(line, partial=True) is not None

    def _input_relation_ok(self, line: str) -> bool:
        """Whether `line` can still become a relation between spans of the input: its head and tail so far are spans
        (the fold of a prefix of a span is a span)."""
        m = _ANY_RELATION.fullmatch(line, partial=True)
        return m is not None and all(fold_text(m[end] or "") in self.source.folded for end in ("head", "tail"))


def drop_open_line(answer: str, source_text: str, relations: str = "listed") -> str:
    """`answer` without its last line if that line could not end there: a generation cut by max_new_tokens in the
    middle of a relation whose tail is only the start of an entity's name would otherwise be read as it stands.
    `relations`: the mode the answer was generated in (RELATION_ENDS)."""
    state = GroundedAnswer(source_text, relations)
    state.advance(answer)
    if state.may_end():
        return answer
    return answer[: answer.rfind("\n") + 1].rstrip()


# --- tokens ----------------------------------------------------------------------------------------------------------


class TokenText:
    """Text of token ids as `tokenizer.decode` writes them inside a sequence, with a cached piece per token.

    Each piece is decoded after an anchor token, because decoders of the SentencePiece kind drop the leading space of
    a sequence's first token, which would fuse "acute" and " renal" into "acuterenal".
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.anchor = tokenizer.encode("\n", add_special_tokens=False)[-1:]
        self.anchor_text = self.decode(self.anchor)
        self.pieces: dict[int, str] = {}

    def decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def text(self, ids: list[int]) -> str:
        full = self.decode(self.anchor + list(ids))
        return full[len(self.anchor_text):] if full.startswith(self.anchor_text) else self.decode(ids)

    def piece(self, token: int) -> str:
        piece = self.pieces.get(token)
        if piece is None:
            piece = self.pieces[token] = self.text([token])
        return piece


@functools.lru_cache(maxsize=4)
def token_text(tokenizer) -> TokenText:
    """One piece cache per tokenizer, shared by every batch (and by the stopping criteria)."""
    return TokenText(tokenizer)


class GroundedRow:
    """One sequence of a batch: its constraint, and the text its open line would have after a candidate token."""

    def __init__(self, source_text: str, texts: TokenText, ends: frozenset[int], relations: str = "listed"):
        self.answer = GroundedAnswer(source_text, relations)
        self.texts = texts
        self.ends = ends  # tokens that end the sequence (EOS)
        self.ids: list[int] = []  # tokens of the open line; the first may also hold the end of the line before
        self.skip = 0  # characters of text(ids) that belong to the line before
        self.pending = False  # the open line ends inside a character whose bytes are still to come
        self.done = False
        self._tried: dict[int, str] = {}  # candidate -> open-line text, this step

    @property
    def active(self) -> bool:
        return not (self.done or self.answer.free)

    def _line_with(self, token: int) -> str:
        text = self._tried.get(token)
        if text is None:
            piece = self.texts.piece(token)
            if self.pending or _PENDING in piece:
                text = self.texts.text(self.ids + [token])[self.skip:]
            else:
                text = self.answer.line + piece
            self._tried[token] = text
        return text

    def allows(self, token: int) -> bool:
        if token in self.ends:
            return self.answer.may_end()
        return self.answer.accepts(self._line_with(token))

    def advance(self, token: int) -> None:
        if token in self.ends:
            self.done = True
            return
        text = self._line_with(token)
        self._tried = {}
        if "\n" in text:
            self.ids, self.skip = [token], self.texts.piece(token).rfind("\n") + 1
        else:
            self.ids.append(token)
        self.answer.advance(text)
        self.pending = self.answer.line.endswith(_PENDING)


def grounded_processor(tokenizer, sources: list[str], end_token_ids, *, top_k: int | None = None,
                       finished: list[bool] | None = None, relations: str = "listed"):
    """A transformers LogitsProcessor grounding each row of a batch in its source text (`sources`, in batch order).

    `end_token_ids`: the EOS tokens. `top_k`: None for greedy decoding (only the model's choice, or the first
    allowed token after it, is left); with sampling, the allowed tokens among the top_k candidates are left.
    `finished`: a live per-row flag (the stopping criteria's) for rows that have ended and are only padded now.
    `relations`: where a relation's head and tail may come from, "listed" or "input" (the module docstring).
    """
    import torch
    from transformers import LogitsProcessor

    texts = token_text(tokenizer)
    ends = frozenset(int(t) for t in end_token_ids if t is not None)

    class GroundedDecoding(LogitsProcessor):
        def __init__(self):
            self.rows = [GroundedRow(s, texts, ends, relations) for s in sources]
            self.length: int | None = None

        def __call__(self, input_ids, scores):
            if self.length is not None and input_ids.shape[1] > self.length:
                for i, (row, token) in enumerate(zip(self.rows, input_ids[:, -1].tolist())):
                    if not (row.done or (finished and finished[i])):
                        row.advance(token)
            self.length = input_ids.shape[1]
            active = [i for i, row in enumerate(self.rows) if row.active and not (finished and finished[i])]
            if not active:
                return scores
            return self._sample(scores, active) if top_k else self._greedy(scores, active)

        def _greedy(self, scores, active):
            best = scores.argmax(dim=-1).tolist()
            rows, tokens = [], []
            for i in active:
                if not self.rows[i].allows(best[i]):
                    rows.append(i)
                    tokens.append(first_allowed(scores[i], self.rows[i]))
            if rows:
                rows_t = torch.tensor(rows, device=scores.device)
                tokens_t = torch.tensor(tokens, device=scores.device)
                kept = scores[rows_t, tokens_t]
                scores[rows_t] = float("-inf")
                scores[rows_t, tokens_t] = kept
            return scores

        def _sample(self, scores, active):
            k = min(int(top_k), scores.shape[-1])
            values, candidates = scores.topk(k, dim=-1)
            finite = torch.isfinite(values).tolist()
            keep = torch.ones_like(scores, dtype=torch.bool)
            for i in active:
                row = self.rows[i]
                allowed = [t for t, ok in zip(candidates[i].tolist(), finite[i]) if ok and row.allows(t)]
                keep[i] = False
                keep[i, allowed or [first_allowed(scores[i], row)]] = True
            return scores.masked_fill(~keep, float("-inf"))

    return GroundedDecoding()


def first_allowed(row_scores, row: GroundedRow, first: int = 64) -> int:
    """The best-scored token the row allows: the `first` best are checked, then (rarely needed) all the rest.

    Where none is allowed (a line that can neither go on nor end grounded) the answer ends: EOS, and the open line
    is dropped from the answer (`drop_open_line`).
    """
    for token, value in _best_first(row_scores, first):
        if value == float("-inf"):
            break  # tokens another processor ruled out are not candidates
        if row.allows(token):
            return token
    return min(row.ends)


def _best_first(row_scores, first: int):
    import torch

    k = min(first, row_scores.shape[-1])
    values, order = row_scores.topk(k)
    yield from zip(order.tolist(), values.tolist())
    if k < row_scores.shape[-1]:
        values, order = torch.sort(row_scores, descending=True)
        yield from zip(order.tolist()[k:], values.tolist()[k:])
