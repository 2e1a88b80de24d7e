"""Runs side by side: what differs between them, their scores, and whether the differences are real.

Reads only run directories (`.hydra/config.yaml`, `.hydra/overrides.yaml`, and `evaluation_results.json` or
`failure.json`); never loads a model. Every run is rescored from its per-example records with today's odin.metrics, so
runs written by older versions of odin are compared under one set of definitions, and each run's bootstrap interval is
computed from the same numbers its row shows. A run whose headline F1 as written differs from the rescored one gets a
note saying so.

Significance (odin.bootstrap): a bootstrap interval for every run's micro entity and relation F1, and, given a
reference run, a paired bootstrap of each run's F1 minus the reference's on the same test examples. Runs scored on
other examples than the reference are not paired; their row says why. odin/compare_report.py shows the result.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml

from odin.app import FAILURE_FILE, read_failure
from odin.bootstrap import Interval, bootstrap_f1
from odin.errors import OdinError
from odin.evaluation import RESULTS_FILE
from odin.extraction import Extraction
from odin.metrics import HEADLINE_METRICS, grounding_rate, key_pairs, score_pairs

log = logging.getLogger(__name__)

METRICS: tuple[str, ...] = (*HEADLINE_METRICS, "examples_per_s")
# The micro F1s that get intervals and paired differences, in the order of a run's (examples, 2, 3) count array.
TESTED = ("entity_f1", "relation_f1")


class ExamplesDiffer(OdinError):
    """Two runs were scored on different test examples, so a paired comparison would compare nothing."""


@dataclass
class RunRecord:
    """One run directory, read: its config, its status and, when it has results, its scores and per-example counts."""

    path: Path  # the run directory; for a run read from a tracking store, runs:/<run id>
    config: dict[str, object]  # flattened: {"lora.r": 16, ...}
    overrides: list[str]  # as given on the command line (.hydra/overrides.yaml)
    status: str = "ok"  # ok | FAILED | KILLED | no results | unreadable
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    examples: list[tuple[str, str]] = field(default_factory=list)  # (id, input) of each scored example
    counts: np.ndarray | None = None  # (examples, 2, 3): entity and relation (TP, FP, FN) per example
    note: str = ""
    name: str = ""  # a tracked run's name, a label when nothing better tells the runs apart
    role: str = ""  # shown after the run's label, e.g. "champion"
    same_as: tuple[str, ...] = ()  # other names of this run: a tracked run's local run directory

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def names(self) -> set[str]:
        return {_identity(p) for p in (self.path, *self.same_as)}


def _identity(path: str | Path) -> str:
    text = Path(path).as_posix()
    return text if text.startswith("runs:") else Path(path).resolve().as_posix()


def flatten(node, prefix: str = "") -> dict[str, object]:
    """{"lora": {"r": 16}} -> {"lora.r": 16}; lists stay whole values (target_modules is one setting)."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, object] = {}
    for key, value in node.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def example_counts(entity_pairs: Sequence[tuple[set, set]], relation_pairs: Sequence[tuple[set, set]]) -> np.ndarray:
    """(examples, 2, 3) array of each example's entity and relation (TP, FP, FN), from odin.metrics.key_pairs: the
    sets the run's scores were computed from, so the intervals count what the row shows."""
    rows = [(len(g & p), len(p - g), len(g - p)) for pairs in (entity_pairs, relation_pairs) for g, p in pairs]
    return np.array(rows, dtype=float).reshape(2, len(entity_pairs), 3).transpose(1, 0, 2)


def load_run(path: str | Path) -> RunRecord:
    """Read one run directory. A run without usable results is returned with its status and reason, not raised."""
    path = Path(path)
    hydra_dir = path / ".hydra"
    if not (hydra_dir / "config.yaml").is_file():
        raise OdinError(f"{path} is not an odin run directory: it has no .hydra/config.yaml. Give the directory a "
                        "run or sweep job wrote (outputs/<date>/<time>_<task> or multirun/<date>/<time>/<n>_...)")
    config = flatten(yaml.safe_load((hydra_dir / "config.yaml").read_text(encoding="utf-8")) or {})
    overrides_file = hydra_dir / "overrides.yaml"
    overrides = [str(o) for o in (yaml.safe_load(overrides_file.read_text(encoding="utf-8")) or [])] \
        if overrides_file.is_file() else []
    run = RunRecord(path=path, config=config, overrides=overrides)
    failure = read_failure(path)  # the run context's record of a failed job: such a run has no valid results
    if failure is not None:
        run.status = str(failure.get("status", "FAILED"))
        run.reason = f"{failure.get('error_type', 'error')}: {failure.get('message', '')}"
        return run
    if not (path / RESULTS_FILE).is_file():
        run.status, run.reason = "no results", f"neither {RESULTS_FILE} nor {FAILURE_FILE} (a task without " \
                                               "evaluation, a run still going, or one stopped before it could say why)"
        return run
    return score_results(run, _read_json(path / RESULTS_FILE))


def score_results(run: RunRecord, results: dict | None) -> RunRecord:
    """Fill `run` from its evaluation_results.json (read from a run dir or a tracked run's artifacts): rescored from
    the per-example records, with each example's counts and a note where the scores as written differ."""
    examples = (results or {}).get("examples")
    if not isinstance(examples, list) or not examples:
        run.status, run.reason = "unreadable", f"{RESULTS_FILE} has no per-example records to score"
        return run
    try:
        golds = [Extraction.from_dict(ex["gold"]) for ex in examples]
        preds = [Extraction.from_dict(ex["prediction"]) for ex in examples]
        inputs = [ex["input"] for ex in examples]
        run.examples = [(str(ex["id"]), str(ex["input"])) for ex in examples]
    except (KeyError, TypeError, AttributeError) as err:
        run.status, run.reason = "unreadable", f"{RESULTS_FILE}: a per-example record lacks {err}"
        return run
    # The scoring keys once, for the scores and the per-example counts alike.
    entity_pairs, relation_pairs = key_pairs(golds, preds)
    scores = score_pairs(entity_pairs, relation_pairs, grounding_rate(preds, inputs))
    run.counts = example_counts(entity_pairs, relation_pairs)
    run.metrics = {**scores.headline(), "examples_per_s": (results.get("timing") or {}).get("examples_per_s")}
    written = results.get("metrics") or {}
    drift = [f"{k} {written[k]:.4f} as written, {run.metrics[k]:.4f} rescored" for k in TESTED
             if isinstance(written.get(k), (int, float)) and abs(written[k] - run.metrics[k]) > 1e-6]
    run.note = f"scored under other rules when written: {'; '.join(drift)}" if drift else ""
    return run


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def find_job_dirs(sweep_dir: str | Path) -> list[Path]:
    """The job directories of a multirun sweep, in job order (`<n>_<overrides>`; nested where a value held a `/`).

    A task=compare run saved inside the sweep is not a job of it."""
    sweep_dir = Path(sweep_dir)
    jobs = [p.parent.parent for p in sweep_dir.rglob(".hydra/config.yaml") if p.parent.parent != sweep_dir]
    jobs = [j for j in jobs if str((yaml.safe_load((j / ".hydra/config.yaml").read_text()) or {}).get("task"))
            != "compare"]

    def job_order(job: Path):
        first = job.relative_to(sweep_dir).parts[0]
        number = re.match(r"\d+", first)
        return (int(number.group()) if number else math.inf, job.as_posix())

    return sorted(jobs, key=job_order)


def override_values(run: RunRecord) -> dict[str, str]:
    # "+experiment=v16" -> {"experiment": "v16"}; "~key" deletions have no value to plot.
    pairs = (o.split("=", 1) for o in run.overrides if "=" in o)
    return {key.lstrip("+~"): value for key, value in pairs}


def differing(values: Sequence[dict]) -> list[str]:
    """The keys whose value is not the same in every one of `values` (a key missing somewhere counts as differing)."""
    keys = list(dict.fromkeys(k for v in values for k in v))
    missing = object()
    return [k for k in keys if len({json.dumps(v.get(k, missing), default=repr) for v in values}) > 1]


def run_labels(runs: Sequence[RunRecord]) -> list[str]:
    """Short names for rows and sentences, each followed by its role if it has one ("v13 (champion)")."""
    return [f"{label} ({r.role})" if r.role else label for label, r in zip(_plain_labels(runs), runs)]


def _plain_labels(runs: Sequence[RunRecord]) -> list[str]:
    """Each run's `version` when those tell the runs apart (v13, v16), else its swept overrides (lora=r32
    training.epochs=3), else its directory name (a tracked run's name)."""
    versions = [str(r.config.get("version", "")) for r in runs]
    if len(set(versions)) == len(runs) and all(versions):
        return versions
    overrides = [override_values(r) for r in runs]
    swept = differing(overrides)
    named = [" ".join(f"{k}={o[k]}" for k in swept if k in o) for o in overrides]
    if swept and len(set(named)) == len(runs) and all(named):
        return named
    names = [r.name or r.path.name for r in runs]
    return names if len(set(names)) == len(runs) else [r.path.as_posix() for r in runs]


def example_mismatch(a: Sequence[tuple[str, str]], b: Sequence[tuple[str, str]]) -> str | None:
    """Why two runs' examples (id, input) differ, or None when they are the same examples (in any order)."""
    if sorted(a) == sorted(b):
        return None
    a_ids, b_ids = dict(a), dict(b)
    only_a, only_b = [i for i in a_ids if i not in b_ids], [i for i in b_ids if i not in a_ids]
    if only_a or only_b:
        example = f"id {only_a[0]!r} only in the first" if only_a else f"id {only_b[0]!r} only in the second"
        return f"{len(a)} examples against {len(b)}, {len(only_a)} and {len(only_b)} ids not in the other ({example})"
    changed = next((i for i in a_ids if a_ids[i] != b_ids[i]), None)
    if changed is not None:
        return f"the same ids, but example {changed!r} has another input text"
    return f"{len(a)} examples against {len(b)}: the same ids and texts, repeated another number of times"


def paired_difference(run: RunRecord, reference: RunRecord, *, resamples: int = 1000, seed: int = 42,
                      confidence: float = 0.95) -> dict[str, Interval]:
    """F1(run) - F1(reference) with a paired bootstrap interval, per TESTED metric; raises ExamplesDiffer when the two
    were scored on different examples. The seam for gating a registry alias on significance."""
    for r in (run, reference):
        if not r.ok:
            raise OdinError(f"{r.path} has no results to compare ({r.status}: {r.reason})")
    why = example_mismatch(run.examples, reference.examples)
    if why:
        raise ExamplesDiffer(f"Not pairing {run.path} with {reference.path}: scored on different examples ({why}). "
                             "Evaluate both on the same split and eval.num_samples")
    counts = np.stack([_in_canonical_order(run)[1], _in_canonical_order(reference)[1]], axis=1)
    boot = bootstrap_f1(counts, resamples=resamples, seed=seed, confidence=confidence)
    return {m: boot.difference((0, t), (1, t)) for t, m in enumerate(TESTED)}


def _in_canonical_order(run: RunRecord) -> tuple[tuple, np.ndarray]:
    # Sorted by (id, input): runs on the same examples line up whatever order their files list them in, and a run's
    # resamples (drawn by position) do not depend on that order either.
    order = sorted(range(len(run.examples)), key=run.examples.__getitem__)
    return tuple(run.examples[i] for i in order), run.counts[order]


@dataclass
class Comparison:
    runs: list[RunRecord]
    labels: list[str]
    varying: list[str]  # config keys that differ between the runs
    swept: list[str]  # override keys that differ: the axes of the plots
    intervals: dict[int, dict[str, Interval]]  # run index -> TESTED metric -> bootstrap interval of its F1
    reference: int | None = None
    differences: dict[int, dict[str, Interval]] = field(default_factory=dict)  # run index -> F1 - reference's F1
    unpaired: dict[int, str] = field(default_factory=dict)  # run index -> why it was not paired with the reference
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 42

    def sentences(self) -> list[str]:
        """'v16 vs v13: relation F1 +0.012, 95% CI [-0.004, +0.027]', one per run and metric."""
        if self.reference is None:
            return []
        ref, level, lines = self.labels[self.reference], f"{self.confidence:.0%}", []
        for i, label in enumerate(self.labels):
            if i in self.differences:
                lines += [f"{label} vs {ref}: {m.replace('_f1', ' F1')} {d.estimate:+.3f}, {level} CI "
                          f"[{d.low:+.3f}, {d.high:+.3f}]" for m, d in self.differences[i].items()]
            elif i in self.unpaired:
                lines.append(f"{label} vs {ref}: not compared, {self.unpaired[i]}")
        return lines

    def rows(self) -> list[dict]:
        """One flat dict per run: every number, for the CSV (and a tracker)."""
        out = []
        for i, (run, label) in enumerate(zip(self.runs, self.labels)):
            row = {"run": label, "status": run.status, "dir": run.path.as_posix(),
                   **{k: _cell(run.config.get(k)) for k in self.varying},
                   "num_examples": len(run.examples) if run.ok else None,
                   **{m: run.metrics.get(m) for m in METRICS}}
            for m in TESTED:
                ci, diff = self.intervals.get(i, {}).get(m), self.differences.get(i, {}).get(m)
                row.update({f"{m}_low": ci and ci.low, f"{m}_high": ci and ci.high,
                            f"{m}_vs_reference": diff and diff.estimate, f"{m}_vs_reference_low": diff and diff.low,
                            f"{m}_vs_reference_high": diff and diff.high})
            row["note"] = "; ".join(x for x in (run.reason, run.note, self.unpaired.get(i, "")) if x)
            out.append(row)
        return out


def _cell(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else "" if value is None else str(value)


def compare_runs(run_dirs: Sequence[str | Path], *, reference: str | Path | None = None, resamples: int = 1000,
                 seed: int = 42, confidence: float = 0.95) -> Comparison:
    """Compare run directories (the reference is added as a row when it is not among them)."""
    runs = [load_run(d) for d in run_dirs]
    ref_index = None
    if reference is not None:
        runs, ref_index = with_reference(runs, load_run(reference))
    return compare_records(runs, reference=ref_index, resamples=resamples, seed=seed, confidence=confidence)


def with_reference(runs: list[RunRecord], reference: RunRecord) -> tuple[list[RunRecord], int]:
    """`runs` with `reference` among them, and its index: where it already is (the same directory or tracked run; it
    takes the reference's role), else added first."""
    for i, run in enumerate(runs):
        if run.names() & reference.names():
            run.role = run.role or reference.role
            return runs, i
    return [reference, *runs], 0


def compare_records(runs: list[RunRecord], *, reference: int | None = None, resamples: int = 1000, seed: int = 42,
                    confidence: float = 0.95) -> Comparison:
    """Compare runs already read (from directories, or from a tracker's artifacts); `reference` indexes `runs`."""
    if reference is not None and not runs[reference].ok:
        raise OdinError(f"The reference run {runs[reference].path} has no results to compare against "
                        f"({runs[reference].status}: {runs[reference].reason})")
    result = Comparison(runs=runs, labels=run_labels(runs), varying=differing([r.config for r in runs]),
                        swept=differing([override_values(r) for r in runs]), intervals={}, reference=reference,
                        confidence=confidence, resamples=resamples, seed=seed)
    groups: dict[tuple, list[int]] = {}  # runs scored on the same examples share one draw of resamples
    ordered = {i: _in_canonical_order(r) for i, r in enumerate(runs) if r.ok}
    for i, (examples, _) in ordered.items():
        groups.setdefault(examples, []).append(i)
    for members in groups.values():
        boot = bootstrap_f1(np.stack([ordered[i][1] for i in members], axis=1), resamples=resamples, seed=seed,
                            confidence=confidence)
        for j, i in enumerate(members):
            result.intervals[i] = {m: boot.interval((j, t)) for t, m in enumerate(TESTED)}
        if reference in members:
            r = members.index(reference)
            for j, i in enumerate(members):
                if i != reference:
                    result.differences[i] = {m: boot.difference((j, t), (r, t)) for t, m in enumerate(TESTED)}
    if reference is not None:
        for i in ordered:
            if i != reference and i not in result.differences:
                why = example_mismatch(runs[i].examples, runs[reference].examples)
                result.unpaired[i] = f"scored on different examples than the reference ({why})"
    for i, run in enumerate(runs):
        if not run.ok:
            log.warning("%s: %s (%s)", result.labels[i], run.status, run.reason)
    return result

