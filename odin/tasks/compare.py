"""task=compare: a table of runs (what differs, their scores, bootstrap intervals), saved with plots in the run dir.

    python -m odin task=compare compare.runs=[outputs/<a>,outputs/<b>] compare.reference=outputs/<a>
    python -m odin task=compare compare.sweep=multirun/<date>/<time>

Writes compare.md, compare.csv and compare_<parameter>.png into this run's directory and prints the table.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from odin.errors import OdinError

log = logging.getLogger(__name__)


def check(cfg: DictConfig) -> None:
    """Refuse settings that cannot work, before anything is read or written."""
    from odin.bootstrap import MIN_RESAMPLES
    from odin.compare import FAILURE_FILE, METRICS, RESULTS_FILE

    c = cfg.compare
    if bool(c.runs) == bool(c.sweep):
        raise OdinError("task=compare needs the runs to compare: compare.runs=[<run dir>,<run dir>,...] or "
                        "compare.sweep=multirun/<date>/<time>, one of the two"
                        + (" (both are set)" if c.runs else ""))
    for i, d in enumerate(c.runs or []):
        _require_run_dir(Path(d), f"compare.runs[{i}]={d}")
    if c.sweep:
        sweep = Path(c.sweep)
        if not sweep.is_dir():
            raise OdinError(f"compare.sweep={c.sweep}: no such directory; give a multirun dir, multirun/<date>/<time>")
    if c.reference:
        ref = Path(c.reference)
        _require_run_dir(ref, f"compare.reference={c.reference}")
        if (ref / FAILURE_FILE).is_file() or not (ref / RESULTS_FILE).is_file():
            raise OdinError(f"compare.reference={c.reference}: the reference run has no {RESULTS_FILE}"
                            + (f" (it failed: see its {FAILURE_FILE})" if (ref / FAILURE_FILE).is_file() else "")
                            + "; pick a run that was evaluated")
    if c.resamples < MIN_RESAMPLES:
        raise OdinError(f"compare.resamples={c.resamples}: use at least {MIN_RESAMPLES} (the default is 1000)")
    if not 0 < c.confidence < 1:
        raise OdinError(f"compare.confidence={c.confidence}: give a level between 0 and 1, e.g. 0.95")
    unknown = [m for m in c.plot_metrics if m not in METRICS]
    if unknown:
        raise OdinError(f"compare.plot_metrics: unknown {', '.join(unknown)}; choose from {', '.join(METRICS)}")


def _require_run_dir(path: Path, key: str) -> None:
    if not path.is_dir():
        raise OdinError(f"{key}: no such directory")
    if not (path / ".hydra" / "config.yaml").is_file():
        raise OdinError(f"{key}: not a run directory (no .hydra/config.yaml); give a directory odin wrote, "
                        "outputs/<date>/<time>_<task> or a sweep job multirun/<date>/<time>/<n>_...")


def run_dirs(cfg: DictConfig) -> list[Path]:
    """The directories compare.runs or compare.sweep names."""
    from odin.compare import find_job_dirs

    if cfg.compare.runs:
        return [Path(d) for d in cfg.compare.runs]
    jobs = find_job_dirs(cfg.compare.sweep)
    if not jobs:
        raise OdinError(f"compare.sweep={cfg.compare.sweep}: no job directories in it (none holds .hydra/config.yaml)")
    return jobs


def compare(cfg: DictConfig, dirs: list[Path], out_dir: Path) -> list[Path]:
    """Compare `dirs`, print the table, write compare.md, compare.csv and the plots to `out_dir`; return their paths."""
    from odin.compare import compare_runs
    from odin.compare_report import print_comparison, write_outputs

    c = cfg.compare
    result = compare_runs(dirs, reference=c.reference, resamples=int(c.resamples), seed=int(c.seed),
                          confidence=float(c.confidence))
    title = f"{len(result.runs)} runs of {c.sweep}" if c.sweep else f"{len(result.runs)} runs"
    print_comparison(result, title)
    paths = write_outputs(result, out_dir, title=title, plot_metrics=list(c.plot_metrics))
    log.info("Comparison of %d runs (%d without results) in %s", len(result.runs),
             sum(not r.ok for r in result.runs), out_dir)
    return paths


def run(ctx) -> dict[str, float]:
    for path in compare(ctx.cfg, run_dirs(ctx.cfg), ctx.run_dir):
        ctx.tracker.log_artifact(path, "compare")
    return {}
