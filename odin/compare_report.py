"""How a comparison is shown: the table (rich on the terminal, Markdown and CSV files) and the PNG plots.

compare.md has every headline score of every run, the F1 intervals and the paired differences; compare.csv every number
(each run's config keys that differ, all metrics, interval bounds); compare_<parameter>.png each metric against each
swept parameter. rich and matplotlib are imported inside the functions that draw.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from odin.compare import TESTED, Comparison, override_values

PLOT_METRICS: tuple[str, ...] = ("entity_f1", "relation_f1", "entity_f1_macro", "relation_f1_macro",
                                 "grounding_rate", "examples_per_s")
MAX_KEYS_SHOWN = 6  # differing config keys in the terminal table
_SHOWN = {"f1": "F1", "precision": "P", "recall": "R", "f1_macro": "F1 macro", "f1_example_avg": "F1 per-example"}


def display_table(c: Comparison, compact: bool = False) -> tuple[list[str], list[list[str]]]:
    """Headers and string cells of the table people read: the differing config keys, the headline scores with the F1
    intervals and, with a reference, the paired differences. The Markdown has every headline score, the CSV every
    number; `compact` (the terminal) keeps the micro F1s and at most MAX_KEYS_SHOWN keys (none the run names already
    show), and leaves the paired differences to the sentences printed under it."""
    level = f"{c.confidence:.0%}"
    keys = [k for k in c.varying if not all(f"{k}=" in label for label in c.labels)][:MAX_KEYS_SHOWN] \
        if compact else c.varying
    shown = {k: v for k, v in _SHOWN.items() if not compact or k == "f1"}
    headers = ["run", *([] if compact else ["status"]), *keys, *([] if compact else ["n"])]
    for task in ("entity", "relation"):
        headers += [f"{task} {name}" + (f" [{level} CI]" if key == "f1" else "") for key, name in shown.items()]
    if not compact:
        headers += ["grounding", "ex/s"]
        if c.reference is not None:
            headers += [f"Δ {t} F1 vs {c.labels[c.reference]} [{level} CI]" for t in ("entity", "relation")]
    headers.append("note")
    rows = []
    for i, (run, row) in enumerate(zip(c.runs, c.rows())):
        cells = [row["run"], *([] if compact else [run.status]), *(_trim(row[k], 20 if compact else 40) for k in keys),
                 *([] if compact else [_num(row["num_examples"], "d")])]
        for task in ("entity", "relation"):
            for key in shown:
                value = _num(row[f"{task}_{key}"])
                ci = c.intervals.get(i, {}).get(f"{task}_{key}")
                cells.append(f"{value} [{ci.low:.3f}, {ci.high:.3f}]" if ci else value)
        if not compact:
            cells += [_num(row["grounding_rate"]), _num(row["examples_per_s"], ".1f")]
            if c.reference is not None:
                for m in TESTED:
                    d = c.differences.get(i, {}).get(m)
                    cells.append(f"{d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}]" if d else
                                 "(reference)" if i == c.reference else "")
        note = row["note"] if run.ok or not compact else f"{run.status}: {row['note']}"
        cells.append(_trim(note, 160))
        rows.append(cells)
    return headers, rows


def _num(value, fmt: str = ".3f") -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def _trim(text: str, width: int, keep_end: bool = False) -> str:
    """`text` cut to `width` characters; `keep_end` keeps its end instead of its start (a path's end tells runs
    apart)."""
    if len(text) <= width:
        return text
    return "…" + text[-(width - 1):] if keep_end else text[: width - 1] + "…"


def rich_table(c: Comparison, title: str = "Comparison"):
    from rich.markup import escape
    from rich.table import Table

    headers, rows = display_table(c, compact=True)
    more = len(c.varying) - MAX_KEYS_SHOWN
    table = Table(title=title, caption=f"micro F1, {c.confidence:.0%} bootstrap intervals ({c.resamples} resamples, "
                                       f"seed {c.seed}); P, R, macro and per-example averages in compare.md"
                                       + (f", with {more} more differing keys" if more > 0 else ""))
    for h in headers:
        # Numbers whole, names and notes folded: a narrow terminal wraps the words, not the digits.
        table.add_column(h, overflow="fold", no_wrap=h.startswith(("entity", "relation")),
                         min_width=min(32, max(map(len, c.labels))) if h == "run" else None)
    for cells, run in zip(rows, c.runs):
        # Cells are plain text: a list override (vote.runs=[a,b]) must not be read as rich markup.
        table.add_row(*map(escape, cells), style=None if run.ok else "red")
    return table


def markdown(c: Comparison, title: str, plots: Sequence[Path] = ()) -> str:
    headers, rows = display_table(c)
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = [f"# {title}", "", "| " + " | ".join(map(esc, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    lines += ["", f"F1 is micro (TP/FP/FN pooled over examples); *macro* averages over entity or relation types; "
              f"*per-example* averages over examples. Intervals: percentile bootstrap over test examples, "
              f"{c.resamples} resamples, seed {c.seed}."]
    if c.reference is not None:
        lines += ["", f"## Against {c.labels[c.reference]} (paired bootstrap on the same test examples)", "",
                  *(f"- {s}" for s in c.sentences())]
    if plots:
        lines += ["", "## Plots", "", *(f"![{p.stem}]({p.name})" for p in plots)]
    return "\n".join(lines) + "\n"


def write_csv(c: Comparison, path: Path) -> Path:
    rows = c.rows()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    return path


def plot_axes(c: Comparison) -> dict[str, list[str]]:
    """Each swept parameter and each run's value of it; with nothing swept, the runs themselves are the axis."""
    if not c.swept:
        return {"run": list(c.labels)}
    values = [override_values(r) for r in c.runs]
    return {key: [v.get(key, "(default)") for v in values] for key in c.swept}


def axis(values: Sequence[str]) -> tuple[list[float], list[float], list[str]]:
    """x positions of `values` and the ticks to label: the numbers themselves when every value is one (ranks, epochs,
    mix weights), else one slot per distinct value in order of first appearance (lora presets, data mixes)."""
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        distinct = list(dict.fromkeys(values))
        # Whole paths and long settings as ticks would leave the axes no room at all.
        return [float(distinct.index(v)) for v in values], [float(i) for i in range(len(distinct))], \
            [_trim(v, 28, keep_end=True) for v in distinct]
    ticks = sorted(set(numbers))
    return numbers, ticks, [format(t, "g") for t in ticks]


def plot(c: Comparison, out_dir: Path, metrics: Sequence[str] = PLOT_METRICS) -> list[Path]:
    """One PNG per swept parameter: each metric against it, one line per setting of the other swept parameters,
    bootstrap intervals as error bars. Runs without results are left out (the title names them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_values, paths = plot_axes(c), []
    ok = [i for i, r in enumerate(c.runs) if r.ok]
    failed = [c.labels[i] for i, r in enumerate(c.runs) if not r.ok]
    for param, values in axes_values.items():
        positions, ticks, tick_labels = axis([values[i] for i in ok])
        x = dict(zip(ok, positions))
        series: dict[str, list[int]] = {}  # one line per setting of the other swept parameters
        for i in ok:
            series.setdefault(" ".join(f"{k}={v[i]}" for k, v in axes_values.items() if k != param), []).append(i)
        cols = 2 if len(metrics) > 1 else 1
        fig, grid = plt.subplots(math.ceil(len(metrics) / cols), cols, figsize=(5.5 * cols, 3.2 * math.ceil(
            len(metrics) / cols)), squeeze=False, layout="constrained")  # tight_layout warns on long tick labels
        for ax, metric in zip(grid.flat, metrics):
            for name, members in series.items():
                members = sorted(members, key=x.get)
                ys = np.array([np.nan if c.runs[i].metrics.get(metric) is None else c.runs[i].metrics[metric]
                               for i in members])
                cis = [c.intervals[i].get(metric) for i in members]
                err = np.array([[y - ci.low for y, ci in zip(ys, cis)], [ci.high - y for y, ci in zip(ys, cis)]]) \
                    if all(cis) else None
                ax.errorbar([x[i] for i in members], ys, yerr=err, marker="o", capsize=3,
                            label=_trim(name, 48, keep_end=True) or None)
            ax.set(title=metric, xlabel=param)
            if len(ticks) <= 12:  # a few settings (ranks, epochs, presets): tick exactly those
                ax.set_xticks(ticks, tick_labels, rotation=30 if len(ticks) > 4 else 0)
            ax.grid(alpha=0.3)
            if len(series) > 1:
                ax.legend(fontsize="small")
        for ax in list(grid.flat)[len(metrics):]:
            ax.set_visible(False)
        fig.suptitle(f"against {param}" + (f" (no results, not shown: {', '.join(failed)})" if failed else ""),
                     fontsize="medium")
        path = out_dir / f"compare_{re.sub(r'[^A-Za-z0-9_.-]+', '_', param)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def write_outputs(c: Comparison, out_dir: str | Path, *, title: str = "Comparison",
                  plot_metrics: Sequence[str] = PLOT_METRICS) -> list[Path]:
    """compare.md, compare.csv and the plots in `out_dir`; returns their paths (what a tracker logs as artifacts)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = plot(c, out_dir, plot_metrics) if any(r.ok for r in c.runs) else []
    md = out_dir / "compare.md"
    md.write_text(markdown(c, title, plots), encoding="utf-8")
    return [md, write_csv(c, out_dir / "compare.csv"), *plots]


def print_comparison(c: Comparison, title: str = "Comparison", console=None) -> None:
    import sys

    from rich.console import Console

    # Piped into a log, rich would assume 80 columns and fold every number; a log has room.
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    console.print(rich_table(c, title))
    for line in c.sentences():
        console.print(line, markup=False)
