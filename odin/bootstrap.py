"""Bootstrap confidence intervals for micro F1, from per-example TP/FP/FN counts (numpy only).

Micro F1 is a ratio of sums (2 TP / (2 TP + FP + FN)), so a bootstrap resample of the test examples only changes how
often each example's counts enter the sums. The resamples are drawn once, as a (resamples x examples) matrix of how
many times each example was drawn, and every run's resampled sums are one matrix product with its (examples x counts)
matrix: 10 runs of 500 examples at 1,000 resamples take milliseconds (bench/bootstrap_speed.py).

The draws depend only on the seed and the number of examples, so a run's interval does not change when other runs are
added to a comparison, and two runs scored on the same examples are resampled identically: that is the paired
bootstrap, whose interval of the difference is much narrower than two separate intervals suggest (the examples that are
hard for one system are mostly hard for the other).

Intervals are percentile intervals: the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the resampled
values. Point estimates are the values on the examples as scored, not the mean of the resamples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_RESAMPLES = 1000  # fewer leave 25 values or less in each 2.5 % tail: an interval that moves with the seed


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    confidence: float

    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0: for a difference, 'significant at this level'."""
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "confidence": self.confidence}


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """Micro F1 from (..., 3) arrays of summed (TP, FP, FN). Nothing gold and nothing predicted scores 1.0, as in
    odin.metrics.prf."""
    counts = np.asarray(counts, dtype=float)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, 1.0)


def resample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) matrix: how many times each of n examples was drawn in each resample (rows sum to n)."""
    if n < 1:
        raise ValueError("a bootstrap needs at least one example")
    rng = np.random.default_rng([seed, n])
    drawn = rng.integers(0, n, size=(resamples, n))
    # One bincount over all rows at once: row r's draws are shifted into the slots r*n .. r*n + n - 1.
    offsets = (np.arange(resamples) * n)[:, None]
    return np.bincount((drawn + offsets).ravel(), minlength=resamples * n).reshape(resamples, n).astype(float)


def resampled_f1(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Micro F1 of every resample: counts (n, ..., 3) per-example counts, weights (resamples, n) from
    resample_weights -> (resamples, ...)."""
    counts = np.asarray(counts, dtype=float)
    n = counts.shape[0]
    if weights.shape[1] != n:
        raise ValueError(f"counts for {n} examples but resample weights for {weights.shape[1]}")
    sums = weights @ counts.reshape(n, -1)  # the whole bootstrap: one matrix product
    return micro_f1(sums.reshape(weights.shape[0], *counts.shape[1:]))


def percentile_interval(estimate: float, samples: np.ndarray, confidence: float) -> Interval:
    low, high = np.quantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(float(estimate), float(low), float(high), confidence)


@dataclass(frozen=True)
class Bootstrap:
    """The resampled micro F1s of k systems scored on the same examples, from one draw of resamples."""

    estimates: np.ndarray  # (k, ...): micro F1 on the examples as scored
    samples: np.ndarray  # (resamples, k, ...)
    confidence: float

    def interval(self, system: int | tuple) -> Interval:
        """The interval of one system's F1: `system` indexes the (k, ...) axes, e.g. (2, 1)."""
        return percentile_interval(self.estimates[system], self._resampled(system), self.confidence)

    def difference(self, system: int | tuple, reference: int | tuple) -> Interval:
        """Paired: the interval of F1(system) - F1(reference), both read from the same resamples."""
        return percentile_interval(self.estimates[system] - self.estimates[reference],
                                   self._resampled(system) - self._resampled(reference), self.confidence)

    def _resampled(self, system: int | tuple) -> np.ndarray:
        return self.samples[(slice(None), *np.atleast_1d(system))]


def bootstrap_f1(counts: np.ndarray, *, resamples: int, seed: int, confidence: float) -> Bootstrap:
    """Bootstrap the micro F1 of k systems scored on the same n examples in the same order.

    counts: (n, k, ..., 3) per-example (TP, FP, FN), e.g. (n, runs, 2, 3) for entities and relations of each run.
    """
    counts = np.asarray(counts, dtype=float)
    if resamples < MIN_RESAMPLES:
        raise ValueError(f"{resamples} resamples: use at least {MIN_RESAMPLES}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence}: give a level between 0 and 1, e.g. 0.95")
    weights = resample_weights(counts.shape[0], resamples, seed)
    return Bootstrap(micro_f1(counts.sum(axis=0)), resampled_f1(counts, weights), confidence)
