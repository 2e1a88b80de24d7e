"""The data mix: which sources make up the training split, and how much of each.

Per source (`data.sources.<name>`): `weight` scales its training examples (0 drops them, 0.5 keeps a seeded half,
2 repeats them twice, 1.5 is all plus a half) and `cap` bounds them. Weights and caps touch the training split
only: validation and test keep every example of every configured source, so runs that vary the mix are evaluated
on the same data. `data.synthetic_ratio` > 0 adds synthetic notes to the training split alone, as many as that
share of the real training examples; at 0 a configured synthetic source is an ordinary source. The notes come from
the `sample` function that source declares (odin/data/sources/synthetic.py).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Optional

from odin.data.example import Example
from odin.data.sources import get_source
from odin.data.split import SPLITS
from odin.errors import OdinError

if TYPE_CHECKING:
    from odin.schema import DataConfig

log = logging.getLogger(__name__)

RATIO_SOURCE = "synthetic"  # the source data.synthetic_ratio draws on (hence the key's name)


def ratio_source(data_cfg: DataConfig) -> Optional[str]:
    """The source the mix sizes by data.synthetic_ratio, when the ratio is on; it is not loaded as a whole source."""
    return RATIO_SOURCE if float(data_cfg.synthetic_ratio) > 0 else None


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
        check_ratio_source(data_cfg)
        if RATIO_SOURCE in by_source:
            raise OdinError(f"data.synthetic_ratio > 0 sizes the {RATIO_SOURCE} source itself; it must not also be "
                            "loaded as an ordinary source")
        src_cfg = data_cfg.sources[RATIO_SOURCE]
        n = apply_cap_size(round(ratio * len(splits["train"])), src_cfg.cap, f"data.sources.{RATIO_SOURCE}.cap")
        added = get_source(RATIO_SOURCE).sample(src_cfg, n)
        log.info("mix: %d %s training examples (synthetic_ratio=%g of %d real)", len(added), RATIO_SOURCE, ratio,
                 len(splits["train"]))
        splits["train"] += added
    random.Random(f"{seed}:mix").shuffle(splits["train"])
    return splits, +report


def check_ratio_source(data_cfg: DataConfig) -> None:
    ratio = float(data_cfg.synthetic_ratio)
    if ratio < 0:
        raise OdinError(f"data.synthetic_ratio={ratio}: must be 0 (no added synthetic data) or more")
    if ratio > 0 and data_cfg.sources.get(RATIO_SOURCE) is None:
        raise OdinError(f"data.synthetic_ratio={ratio} adds {RATIO_SOURCE} notes, but data.sources.{RATIO_SOURCE} is "
                        f"not configured: give it in the data config or experiment (`sources: {{{RATIO_SOURCE}: {{}}}}`"
                        ", as conf/experiment/v12b.yaml does), or set data.synthetic_ratio=0")


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


def apply_cap_size(n: int, cap: Optional[int], key: str) -> int:
    if cap is None:
        return n
    if cap < 0:
        raise OdinError(f"{key}={cap}: must be a number of examples (0 or more), or null for no cap")
    return min(n, cap)


def _copy(ex: Example, k: int) -> Example:
    return replace(ex, id=f"{ex.id}#rep{k}")
