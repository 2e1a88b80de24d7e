"""task=compare: a table of runs (what differs, their scores, bootstrap intervals), saved with plots in the run dir.

    python -m odin task=compare compare.runs=[outputs/<a>,outputs/<b>] compare.reference=outputs/<a>
    python -m odin task=compare compare.sweep=multirun/<date>/<time>
    python -m odin task=compare compare.experiment=odin compare.reference=champion   # runs tracked in MLflow

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
    given = [f"compare.{k}" for k in ("runs", "sweep", "experiment") if c[k]]
    if len(given) != 1:
        raise OdinError("task=compare needs the runs to compare, one of compare.runs=[<run dir>,<run dir>,...], "
                        "compare.sweep=multirun/<date>/<time> or compare.experiment=<MLflow experiment>"
                        + (f" ({' and '.join(given)} are set)" if given else ""))
    for i, d in enumerate(c.runs or []):
        _require_run_dir(Path(d), f"compare.runs[{i}]={d}")
    if c.sweep:
        sweep = Path(c.sweep)
        if not sweep.is_dir():
            raise OdinError(f"compare.sweep={c.sweep}: no such directory; give a multirun dir, multirun/<date>/<time>")
    if c.filter and not c.experiment:
        raise OdinError(f"compare.filter={c.filter!r} selects runs of compare.experiment, which is not set")
    if c.reference and c.reference != "champion":
        ref = Path(c.reference)
        _require_run_dir(ref, f"compare.reference={c.reference}")
        if (ref / FAILURE_FILE).is_file() or not (ref / RESULTS_FILE).is_file():
            raise OdinError(f"compare.reference={c.reference}: the reference run has no {RESULTS_FILE}"
                            + (f" (it failed: see its {FAILURE_FILE})" if (ref / FAILURE_FILE).is_file() else "")
                            + "; pick a run that was evaluated, or compare.reference=champion")
    if c.resamples < MIN_RESAMPLES:
        raise OdinError(f"compare.resamples={c.resamples}: use at least {MIN_RESAMPLES} (the default is 1000)")
    if not 0 < c.confidence < 1:
        raise OdinError(f"compare.confidence={c.confidence}: give a level between 0 and 1, e.g. 0.95")
    unknown = [m for m in c.plot_metrics if m not in METRICS]
    if unknown:
        raise OdinError(f"compare.plot_metrics: unknown {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    # Last, as they read the tracking store: an experiment or a champion that is not there is refused now.
    if c.experiment:
        from odin.tracking.results import experiment_id, open_store, store_uri

        experiment_id(open_store(store_uri(cfg)), str(c.experiment))
    if c.reference == "champion":
        _champion(cfg)


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


def _champion(cfg: DictConfig):
    """The registry champion's run (compare.reference=champion), read from the tracking store."""
    from odin.tracking.results import champion_record, open_store, store_uri

    return champion_record(open_store(store_uri(cfg)), str(cfg.tracking.registered_model_name),
                           str(cfg.register.alias))


def gather(cfg: DictConfig, dirs: list[Path] | None = None) -> tuple[list, str]:
    """The runs to compare, read: `dirs`, else what compare.runs, compare.sweep or compare.experiment names."""
    from odin.compare import RESULTS_FILE, load_run

    c = cfg.compare
    if dirs is None and c.experiment:
        from odin.tracking.results import experiment_records, open_store, store_uri

        runs = experiment_records(open_store(store_uri(cfg)), str(c.experiment), str(c.filter or ""))
        if not runs:
            raise OdinError(f"compare.experiment={c.experiment}: none of its runs"
                            + (f" matching {c.filter!r}" if c.filter else "") + f" has {RESULTS_FILE} or failed "
                            "(the log lists each run and why it was left out)")
        return runs, f"runs of MLflow experiment {c.experiment}"
    runs = [load_run(d) for d in (dirs if dirs is not None else run_dirs(cfg))]
    return runs, f"runs of {c.sweep}" if c.sweep else "runs"


def compare(cfg: DictConfig, dirs: list[Path] | None, out_dir: Path) -> list[Path]:
    """Compare `dirs` (None: the runs cfg.compare names) against compare.reference, print the table, write
    compare.md, compare.csv and the plots to `out_dir`; return their paths."""
    from odin.compare import compare_records, load_run, with_reference
    from odin.compare_report import print_comparison, write_outputs

    c = cfg.compare
    runs, what = gather(cfg, dirs)
    ref_index = None
    if c.reference:
        reference = _champion(cfg) if c.reference == "champion" else load_run(c.reference)
        runs, ref_index = with_reference(runs, reference)
    result = compare_records(runs, reference=ref_index, resamples=int(c.resamples), seed=int(c.seed),
                             confidence=float(c.confidence))
    title = f"{len(result.runs)} {what}"
    print_comparison(result, title)
    paths = write_outputs(result, out_dir, title=title, plot_metrics=list(c.plot_metrics))
    log.info("Comparison of %d runs (%d without results) in %s", len(result.runs),
             sum(not r.ok for r in result.runs), out_dir)
    return paths


def run(ctx) -> dict[str, float]:
    for path in compare(ctx.cfg, None, ctx.run_dir):
        ctx.tracker.log_artifact(path, "compare")
    return {}
