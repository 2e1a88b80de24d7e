"""Train/val/test splits grouped by document, exact-duplicate removal, and the leakage check.

A document (PMID) never straddles two splits: every example of a `doc_id` lands in one split, across sources too,
because the corpora share abstracts (BioRED reuses BC5CDR abstracts, ADE sentences come from PubMed abstracts).
Official splits are kept where a corpus has them (`data.split.use_official`). When two corpora's official splits
disagree about a document, the more held-out split wins (test > val > train) and the copy in the lower split is
removed and counted, so every corpus's official test set stays whole and evaluation stays comparable.
Documents without an official split are shuffled with the seed and cut by the configured ratios, per source.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable

from odin.data.example import Example
from odin.errors import OdinError
from odin.format import render

if TYPE_CHECKING:
    from odin.schema import SplitConfig

SPLITS = ("train", "val", "test")
RANK = {s: i for i, s in enumerate(SPLITS)}  # higher = more held out


def split_ratios(split_cfg: SplitConfig) -> tuple[float, float, float]:
    ratios = (float(split_cfg.train), float(split_cfg.val), float(split_cfg.test))
    if any(r < 0 for r in ratios) or not math.isclose(sum(ratios), 1.0, abs_tol=1e-6):
        raise OdinError(
            f"data.split ratios train={ratios[0]}, val={ratios[1]}, test={ratios[2]} must be non-negative and sum "
            "to 1 (e.g. data.split.train=0.8 data.split.val=0.1 data.split.test=0.1)"
        )
    return ratios


def assign_splits(examples: list[Example], split_cfg: SplitConfig, seed: int) -> tuple[list[Example], Counter]:
    """Every example with its `split` set, a document's examples all in one split; and what was removed, by reason."""
    ratios = split_ratios(split_cfg)
    for ex in examples:
        if ex.split is not None and ex.split not in RANK:
            raise OdinError(f"Example {ex.id} from source {ex.source} has split {ex.split!r}; expected one of "
                            f"{', '.join(SPLITS)}")
    official = bool(split_cfg.use_official)
    doc_split: dict[str, str] = {}
    if official:
        for ex in examples:
            current = doc_split.get(ex.doc_id)
            if ex.split is not None and (current is None or RANK[ex.split] > RANK[current]):
                doc_split[ex.doc_id] = ex.split

    # Documents with no official split, per source in a fixed order, shuffled with a per-source seed.
    unassigned: dict[str, list[str]] = {}
    for ex in examples:
        if ex.doc_id not in doc_split and (not official or ex.split is None):
            unassigned.setdefault(ex.source, []).append(ex.doc_id)
    for source in sorted(unassigned):
        docs = sorted({d for d in unassigned[source] if d not in doc_split})
        random.Random(f"{seed}:{source}").shuffle(docs)
        for doc, split in zip(docs, _cut(len(docs), ratios)):
            doc_split[doc] = split

    kept, dropped = [], Counter()
    for ex in examples:
        target = doc_split[ex.doc_id]
        if official and ex.split is not None and ex.split != target:
            dropped[f"document also in another source's {target} split: removed from {ex.split}"] += 1
            continue
        kept.append(ex if ex.split == target else replace(ex, split=target))
    return kept, dropped


def add_training_only(examples: list[Example], extra: Iterable[Example]) -> tuple[list[Example], Counter]:
    """`examples` (split already) plus `extra` in the training split, except those whose document is in val or test:
    the splits were drawn without them, so val and test stay exactly as they were."""
    doc_split = {ex.doc_id: ex.split for ex in examples}
    added, dropped = [], Counter()
    for ex in extra:
        held_out = doc_split.get(ex.doc_id, "train")
        if held_out != "train":
            dropped[f"training-only example from a {held_out} document: left out"] += 1
        else:
            added.append(replace(ex, split="train"))
    return examples + added, dropped


def _cut(n: int, ratios: tuple[float, float, float]) -> list[str]:
    """Split labels for n shuffled documents: round(n * train) train, round(n * val) val, the rest test."""
    n_train = round(n * ratios[0])
    n_val = min(n - n_train, round(n * ratios[1]))
    if ratios[2] == 0:
        n_val = n - n_train
    return ["train"] * n_train + ["val"] * n_val + ["test"] * (n - n_train - n_val)


def dedupe(examples: Iterable[Example]) -> tuple[list[Example], Counter]:
    """Drop exact duplicates (same input and same output) within a split, keeping the first."""
    seen: set[tuple[str, str, str]] = set()
    kept, dropped = [], Counter()
    for ex in examples:
        key = (ex.split or "", ex.text, render(ex.extraction.entities, ex.extraction.relations))
        if key in seen:
            dropped[f"exact duplicate (same input and output) in {ex.split}"] += 1
            continue
        seen.add(key)
        kept.append(ex)
    return kept, dropped


def remove_leakage(examples: Iterable[Example]) -> tuple[list[Example], Counter]:
    """An input text that occurs in two splits stays only in the most held-out one (test > val > train)."""
    examples = list(examples)
    top: dict[str, str] = {}
    for ex in examples:
        if RANK[ex.split] >= RANK[top.get(ex.text, "train")]:
            top[ex.text] = ex.split
    kept, dropped = [], Counter()
    for ex in examples:
        if ex.split != top[ex.text]:
            dropped[f"input also in {top[ex.text]} (leakage): removed from {ex.split}"] += 1
        else:
            kept.append(ex)
    return kept, dropped


def by_split(examples: Iterable[Example]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for ex in examples:
        out[ex.split].append(ex)
    return out
