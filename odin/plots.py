"""The two pictures of an evaluation that people would rather look at than read, as PNG files.

- per_type.png: precision, recall and F1 per entity type and per relation type (bars, with the support under each);
- errors.png: how many errors of each category (odin.evaluation.ERROR_CATEGORIES).

Written beside evaluation_results.json (in `plots/`) and logged with the run when tracking is on. matplotlib's
object API with the Agg canvas: no display, no global pyplot state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

_COLORS = {"precision": "#4C72B0", "recall": "#DD8452", "f1": "#55A868"}


def write_plots(results: Mapping, out_dir: Path) -> list[Path]:
    """Both plots of a results dict into `out_dir`; the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [per_type_plot(results, out_dir / "per_type.png"), error_plot(results, out_dir / "errors.png")]


def per_type_plot(results: Mapping, path: Path) -> Path:
    from matplotlib.figure import Figure

    scores = results["scores"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (task, title) in zip(axes, (("entities", "Entities"), ("relations", "Relations"))):
        per_type = scores[task]["per_type"]
        names = list(per_type)
        width = 0.27
        for i, metric in enumerate(("precision", "recall", "f1")):
            xs = [j + (i - 1) * width for j in range(len(names))]
            ax.bar(xs, [per_type[n][metric] for n in names], width, label=metric, color=_COLORS[metric])
        ax.set_xticks(range(len(names)), [f"{n}\n(n={per_type[n]['support']})" for n in names])
        micro = scores[task]["micro"]["f1"]
        ax.set_title(f"{title}: micro F1 {micro:.3f}")
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
        if not names:
            ax.text(0.5, 0.5, "nothing predicted or annotated", ha="center", va="center", transform=ax.transAxes)
    axes[0].set_ylabel("score")
    axes[1].legend(loc="lower right")
    fig.suptitle(_title(results))
    fig.savefig(path, dpi=110)
    return path


def error_plot(results: Mapping, path: Path) -> Path:
    from matplotlib.figure import Figure

    from odin.evaluation import ERROR_CATEGORIES

    counts = results["error_counts"]
    names = [c for c in ERROR_CATEGORIES if c in counts]
    values = [counts[c] for c in names]
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    bars = ax.barh([n.replace("_", " ") for n in names], values, color="#C44E52")
    ax.bar_label(bars, padding=2)
    ax.invert_yaxis()
    ax.set_xlabel("count")
    ax.set_title(f"Errors on {results['num_examples']} examples (parse errors: {counts.get('parse_errors', 0)})")
    ax.set_xlim(0, max(values + [1]) * 1.15)
    fig.savefig(path, dpi=110)
    return path


def _title(results: Mapping) -> str:
    version = (results.get("provenance") or {}).get("version")
    model = results.get("model") or "model"
    return f"{version + ': ' if version and version != 'dev' else ''}{model} on {results['split']} " \
           f"({results['num_examples']} examples)"
