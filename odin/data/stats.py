"""Per-split statistics of a prepared dataset: what is in it, how long the inputs are, and what was left out.

Saved as `stats.json` beside the splits, printed as a table, and quoted in the dataset card. Beside the splits,
`sources` records what each source gave before splitting: its examples, weight and cap, how it maps onto odin's
types, and where it came from (for corpora: each file read with its size, sha256 and documents, and whether the
files are the official release's).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Callable, Mapping, Sequence

from odin.data.example import Example
from odin.extraction import ENTITY_TYPES, RELATION_TYPES

PERCENTILES = (50, 90, 99)


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def split_stats(examples: list[Example], token_counts: list[int]) -> dict:
    lengths = sorted(token_counts)
    return {
        "examples": len(examples),
        "documents": len({ex.doc_id for ex in examples}),
        "chunks": sum("#chunk" in ex.id for ex in examples),
        "without_entities": sum(not ex.extraction.entities for ex in examples),
        "sources": dict(sorted(Counter(ex.source for ex in examples).items())),
        "entities": _counts((e.type for ex in examples for e in ex.extraction.entities), ENTITY_TYPES),
        "relations": _counts((r.relation for ex in examples for r in ex.extraction.relations), RELATION_TYPES),
        "input_tokens": {**{f"p{q}": percentile(lengths, q) for q in PERCENTILES},
                         "max": lengths[-1] if lengths else 0, "total": sum(lengths)},
    }


def _counts(items, keys) -> dict[str, int]:
    counts = Counter(items)
    return {k: counts.get(k, 0) for k in keys}


def compute_stats(
    splits: Mapping[str, list[Example]],
    count_tokens: Callable[[Sequence[str]], list[int]],
    dropped: Mapping[str, Counter],
    settings: Mapping[str, object],
    sources: Mapping[str, Mapping] | None = None,
) -> dict:
    """`dropped` maps a stage (a source name, split, length, dedupe, leakage, mix) to its reasons and counts;
    `sources` maps a source name to what was read from it."""
    return {
        "splits": {name: split_stats(exs, count_tokens([ex.text for ex in exs]) if exs else [])
                   for name, exs in splits.items()},
        "dropped": {stage: dict(sorted(c.items())) for stage, c in dropped.items() if c},
        "settings": dict(settings),
        "sources": {name: dict(entry) for name, entry in (sources or {}).items()},
    }


def write_stats(stats: dict, path: Path) -> None:
    path.write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def rows(stats: dict) -> list[tuple[str, list[str]]]:
    """The table's rows, (label, one cell per split): shared by the console table and the dataset card."""
    splits = stats["splits"]
    names = list(splits)

    def row(label, get):
        return (label, [f"{get(splits[n]):,}" for n in names])

    out = [row("examples", lambda s: s["examples"]), row("documents", lambda s: s["documents"]),
           row("chunks of long documents", lambda s: s["chunks"]),
           row("examples without entities", lambda s: s["without_entities"])]
    sources = sorted({src for s in splits.values() for src in s["sources"]})
    out += [row(f"  from {src}", lambda s, src=src: s["sources"].get(src, 0)) for src in sources]
    out += [row(f"entities: {t}", lambda s, t=t: s["entities"][t]) for t in ENTITY_TYPES]
    out += [row(f"relations: {t}", lambda s, t=t: s["relations"][t]) for t in RELATION_TYPES]
    out += [row(f"input tokens {k}", lambda s, k=k: s["input_tokens"][k]) for k in ("p50", "p90", "p99", "max")]
    out += [row("input tokens in all", lambda s: s["input_tokens"].get("total", 0))]
    return out


def print_stats(stats: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Prepared data")
    table.add_column("")
    for name in stats["splits"]:
        table.add_column(name, justify="right")
    for label, cells in rows(stats):
        table.add_row(label, *cells)
    console = Console()
    console.print(table)
    if stats["dropped"]:
        dropped = Table(title="Left out (by stage and reason)")
        dropped.add_column("stage")
        dropped.add_column("reason")
        dropped.add_column("count", justify="right")
        for stage, reasons in stats["dropped"].items():
            for reason, n in reasons.items():
                dropped.add_row(stage, reason, f"{n:,}")
        console.print(dropped)
