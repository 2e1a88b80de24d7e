"""register.require_significant: the champion alias moves only to a version whose gain is more than noise.

The registry's rule (odin/tracking/registry.py) says whether a new version beats the champion and on which metric.
With this gate on, that gain must also be significant: the paired bootstrap of the two versions' per-example records
on the same test examples (odin.compare.paired_difference, odin.bootstrap's statistics) gives a confidence interval of
the difference that excludes 0. Otherwise the alias stays, and the decision says why, with the difference and its
interval. The per-example records are the runs' `evaluation_results.json` (odin/tracking/results.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from odin.compare import TESTED

# Metrics the gate can test: the micro F1s the bootstrap resamples.
TESTABLE = TESTED


@dataclass(frozen=True)
class Significance:
    """The bootstrap behind the gate (compare.resamples, compare.seed, compare.confidence)."""

    resamples: int = 1000
    seed: int = 42
    confidence: float = 0.95


def deciding_metric(new: Mapping[str, float], old: Mapping[str, float], rule: Sequence[str]) -> str | None:
    """The first metric of `rule` on which the two versions' scores differ: the one that decided."""
    return next((m for m in rule if new.get(m) != old.get(m)), None)


def gate(client, model_name: str, alias: str, run, candidate, champion, rule: Sequence[str], decision,
         how: Significance):
    """registry.register's hook: `decision` (to promote `candidate`, the version of `run`, over `champion`) kept only
    when the gain on the metric that decided is significant."""
    champion_run_id = client.get_model_version_by_alias(model_name, alias).run_id
    metric = deciding_metric(candidate.metrics, champion.metrics, rule)
    return significance_decision(client, run, champion_run_id, decision, metric, how)


def significance_decision(client, run, champion_run_id: str, decision, metric: str, how: Significance):
    """The registry's `decision` to promote `run` (it beats the champion's run on `metric`), kept only when that gain
    is significant; the reason says which, with the difference and its interval."""
    from odin.compare import ExamplesDiffer, paired_difference
    from odin.tracking.registry import Decision
    from odin.tracking.results import run_record

    def stay(why: str) -> Decision:
        return Decision(False, f"{decision.reason}, but {why}; the alias stays (register.require_significant=true; "
                               "register.force=true promotes by hand)")

    if metric not in TESTABLE:
        return stay(f"only {' and '.join(TESTABLE)} can be tested for significance, and {metric} decided")
    records = {"the new version": run_record(client, run),
               "the champion": run_record(client, client.get_run(champion_run_id))}
    for who, record in records.items():
        if not record.ok:
            return stay(f"the gain cannot be tested: {who} ({record.path}) has no per-example records "
                        f"({record.status}: {record.reason})")
    new, old = records.values()
    try:
        diff = paired_difference(new, old, resamples=how.resamples, seed=how.seed,
                                 confidence=how.confidence)[metric]
    except ExamplesDiffer as err:
        return stay(f"the gain cannot be tested: {err}")
    gain = f"{metric} {diff.estimate:+.4f}, {how.confidence:.0%} CI [{diff.low:+.4f}, {diff.high:+.4f}]"
    basis = (f"(paired bootstrap on the same {len(new.examples)} test examples, {how.resamples} resamples, "
             f"seed {how.seed})")
    if diff.low > 0:
        return Decision(True, f"{decision.reason}, and the gain is significant: {gain} excludes 0 {basis}")
    where = "includes 0" if diff.high >= 0 else "lies below 0, rescored from the per-example records,"
    return stay(f"the gain is not significant: {gain} {where} {basis}")
