"""The data mix: which sources make up the training split, and how much of each.

Per source (`data.sources.<name>`): `weight` scales its training examples (0 drops them, 0.5 keeps a seeded half,
2 repeats them twice, 1.5 is all plus a half) and `cap` bounds them. Weights and caps touch the training split
only: validation and test keep every example of every configured source, so runs that vary the mix are evaluated
on the same data. `data.synthetic_ratio` > 0 adds synthetic notes to the training split alone, as many as that
share of the real training examples; at 0 a configured synthetic source is an ordinary source.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Optional

from odin.data.example import Example
from odin.data.sources import synthetic
from odin.data.split import SPLITS
from odin.errors import OdinError
from odin.format import render

if TYPE_CHECKING:
    from odin.schema import DataConfig

log = logging.getLogger(__name__)


def mix(examples: list[Example], data_cfg: DataConfig, seed: int) -> tuple[dict[str, list[Example]], Counter]:
    """The final splits (training shuffled with the seed) and the training examples left out, by reason."""
    ratio = float(data_cfg.synthetic_ratio)
    if ratio < 0:
        raise OdinError(f"data.synthetic_ratio={ratio}: must be 0 (no added synthetic data) or more")
    by_source: dict[str, list[Example]] = {}
    for ex in examples:
        by_source.setdefault(ex.source, []).append(ex)
    splits: dict[str, list[Example]] = {s: [] for s in SPLITS}
    report: Counter = Counter()
    for source in sorted(by_source):
        src_cfg = getattr(data_cfg.sources, source, None)
        weight = 1.0 if src_cfg is None else float(src_cfg.weight)
        cap = None if src_cfg is None else src_cfg.cap
        train = [ex for ex in by_source[source] if ex.split == "train"]
        rng = random.Random(f"{seed}:mix:{source}")
        weighted = weigh(train, weight, rng, f"data.sources.{source}.weight")
        if weight < 1:
            report[f"{source}: training examples left out by weight {weight:g}"] += len(train) - len(weighted)
        capped = apply_cap(weighted, cap, rng, f"data.sources.{source}.cap")
        report[f"{source}: training examples over cap {cap}"] += len(weighted) - len(capped)
        splits["train"] += capped
        for split in ("val", "test"):
            splits[split] += [ex for ex in by_source[source] if ex.split == split]
        log.info("mix: %s gives %d training examples (%d before weight %g, cap %s)", source, len(capped),
                 len(train), weight, cap)

    if ratio > 0:
        syn_cfg = data_cfg.sources.synthetic
        if syn_cfg is None:
            raise OdinError(f"data.synthetic_ratio={ratio} adds synthetic notes, but data.sources.synthetic is not "
                            "configured: give it in the data config or experiment (`sources: {synthetic: {}}`, as "
                            "conf/experiment/v12b.yaml does), or set data.synthetic_ratio=0")
        if "synthetic" in by_source:
            raise OdinError("data.synthetic_ratio > 0 sizes the synthetic source itself; it must not also be "
                            "loaded as an ordinary source")
        n = apply_cap_size(round(ratio * len(splits["train"])), syn_cfg.cap)
        added = synthetic_train(syn_cfg, n)
        log.info("mix: %d synthetic training notes (synthetic_ratio=%g of %d real)", len(added), ratio,
                 len(splits["train"]))
        splits["train"] += added
    random.Random(f"{seed}:mix").shuffle(splits["train"])
    return splits, +report


def weigh(train: list[Example], weight: float, rng: random.Random, key: str) -> list[Example]:
    """`int(weight)` full copies plus a seeded sample of the fractional part; copies get ids `<id>#rep<k>`."""
    if weight < 0:
        raise OdinError(f"{key}={weight}: must be 0 (drop the source's training data) or more")
    whole, frac = int(weight), weight - int(weight)
    out: list[Example] = []
    for k in range(1, whole + 1):
        out += train if k == 1 else [_copy(ex, k) for ex in train]
    n = round(frac * len(train))
    if n:
        picked = sorted(rng.sample(range(len(train)), n))
        out += [train[i] if whole == 0 else _copy(train[i], whole + 1) for i in picked]
    return out


def apply_cap(train: list[Example], cap: Optional[int], rng: random.Random, key: str) -> list[Example]:
    n = apply_cap_size(len(train), cap, key)
    if n == len(train):
        return train
    return [train[i] for i in sorted(rng.sample(range(len(train)), n))]


def apply_cap_size(n: int, cap: Optional[int], key: str = "data.sources.synthetic.cap") -> int:
    if cap is None:
        return n
    if cap < 0:
        raise OdinError(f"{key}={cap}: must be a number of examples (0 or more), or null for no cap")
    return min(n, cap)


def synthetic_train(syn_cfg, n: int) -> list[Example]:
    """`n` distinct synthetic notes (no exact duplicates), marked as training examples."""
    if n <= 0:
        return []
    out, seen = [], set()
    for ex in synthetic.generate(int(n * 1.25) + 20, syn_cfg.seed, syn_cfg.version, syn_cfg.augment):
        key = (ex.text, render(ex.extraction.entities, ex.extraction.relations))
        if key not in seen:
            seen.add(key)
            out.append(replace(ex, split="train"))
            if len(out) == n:
                break
    return out


def _copy(ex: Example, k: int) -> Example:
    return replace(ex, id=f"{ex.id}#rep{k}")
