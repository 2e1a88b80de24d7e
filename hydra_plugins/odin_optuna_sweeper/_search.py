"""The Optuna study behind OdinOptunaSweeper: the search space, the ask-launch-tell loop, the results file.

A module whose name starts with `_`, so Hydra's plugin scan does not import it (nor Optuna) at every start-up.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import optuna
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

log = logging.getLogger(__name__)


def distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override: choice -> categorical, range -> int (or float) with its step,
    interval -> float, with tag(log, ...) on a log scale and tag(int, interval(...)) over integers."""
    sweep = override.value()
    if override.is_choice_sweep():
        choices = [Override._convert_value(x) for x in sweep.list] if isinstance(sweep, ChoiceSweep) \
            else list(override.sweep_iterator())  # a glob over a config group's options
        return CategoricalDistribution(choices)
    tags = set(sweep.tags)
    if isinstance(sweep, RangeSweep):
        values = list(sweep.range())
        if not values:
            raise HydraException(f"hydra.sweeper.params: {override.input_line} is an empty range")
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(sweep.step), log="log" in tags)
        return FloatDistribution(values[0], values[-1], step=float(sweep.step), log="log" in tags)
    if isinstance(sweep, IntervalSweep):
        if "int" in tags:
            return IntDistribution(int(sweep.start), int(sweep.end), log="log" in tags)
        return FloatDistribution(float(sweep.start), float(sweep.end), log="log" in tags)
    raise HydraException(f"hydra.sweeper.params: cannot search {override.input_line}")


def search_space(params: dict[str, Any], arguments: Sequence[str], config_loader=None
                 ) -> tuple[dict[str, BaseDistribution], list[str]]:
    """The distributions to sample and the overrides every trial gets, from `hydra.sweeper.params` and the command
    line (which wins where both name a key)."""
    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    parsed = OverridesParser.create(config_loader=config_loader).parse_overrides(lines)
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in parsed:
        key = override.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            fixed[key] = f"{key}={override.get_value_element_as_str()}"
    return space, list(fixed.values())


def trial_overrides(fixed: Sequence[str], params: dict[str, Any]) -> list[str]:
    return [*fixed, *(f"{key}={Override._get_value_element_as_str(value)}" for key, value in params.items())]


def job_dir(job) -> str | None:
    """Where a job wrote its outputs (its run directory; the working directory only when Hydra changed into it)."""
    output_dir = OmegaConf.select(job.hydra_cfg, "hydra.runtime.output_dir") if job.hydra_cfg is not None else None
    return str(output_dir) if output_dir else job.working_dir


def outcome(job) -> tuple[float | None, str | None]:
    """A finished job's value, or None and why it is not one (the job raised, returned nothing, or NaN)."""
    try:
        value = job.return_value
    except Exception as err:  # the job raised (odin records failures instead; another app may not)
        return None, f"{type(err).__name__}: {err}"
    if value is None:
        return None, failure_reason(job_dir(job)) or "the job returned no value"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None, f"the job returned {value!r}, not a number"
    return (None, "the job returned NaN") if math.isnan(value) else (value, None)


def failure_reason(job_dir: str | None) -> str | None:
    """odin's record of why a job failed (failure.json in its directory), when there is one."""
    path = Path(job_dir or "") / "failure.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return f"{record.get('error_type')}: {record.get('message')}"


def results(study: optuna.Study, metric: str | None) -> dict[str, Any]:
    """What optimization_results.yaml holds: the best trial (over the whole study, resumed runs included) and every
    trial with its state, value, parameters, job directory and, for a failed one, the reason."""
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if done else None
    trials = [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
               **{k: v for k, v in t.user_attrs.items() if k in ("job_dir", "error")}} for t in study.trials]
    return {
        "study_name": study.study_name,
        "direction": study.direction.name.lower(),
        "metric": metric,
        "best_trial": best.number if best else None,
        "best_value": best.value if best else None,
        "best_params": best.params if best else None,
        "best_job_dir": best.user_attrs.get("job_dir") if best else None,
        "trials_complete": len(done),
        "trials_failed": sum(t.state == TrialState.FAIL for t in study.trials),
        "trials": trials,
    }


def check_metric(config) -> str | None:
    """An Optuna search tunes settings to the value it is given, so that value must not be a test-set score: the
    test score of the best trial would then be fitted to the test set. odin names val scores `val_...`."""
    metric = OmegaConf.select(config, "optimized_metric")
    if metric is not None and not str(metric).startswith("val_"):
        raise HydraException(
            f"hydra/sweeper=odin_optuna would optimize optimized_metric={metric}, which is scored on the test split. "
            f"Optimize a validation score instead: optimized_metric=val_{metric} (conf/hparams_search/optuna.yaml "
            "sets val_relation_f1); the test split is still scored and reported for every trial.")
    return None if metric is None else str(metric)


def make_study(sweeper) -> optuna.Study:
    if sweeper.direction not in ("maximize", "minimize"):
        raise HydraException(f"hydra.sweeper.direction={sweeper.direction}: use maximize or minimize")
    if sweeper.n_trials < 1 or sweeper.n_jobs < 1:
        raise HydraException(f"hydra.sweeper.n_trials={sweeper.n_trials}, n_jobs={sweeper.n_jobs}: both must be "
                             "at least 1")
    sampler = sweeper.sampler  # Hydra builds it when it builds the sweeper (a `_target_` inside a `_target_`)
    if isinstance(sampler, dict) or OmegaConf.is_config(sampler):
        sampler = instantiate(sampler)
    study = optuna.create_study(study_name=sweeper.study_name, storage=sweeper.storage, sampler=sampler,
                                direction=sweeper.direction, load_if_exists=True)
    seeded = OmegaConf.select(sweeper.config, "hydra.sweeper.sampler") if sweeper.config is not None else None
    if study.trials and seeded is not None and seeded.get("seed") is not None:
        # A resumed study: the same seed would draw the first command's values again. Seed + the trials so far
        # goes on, and is as repeatable.
        study.sampler = instantiate(seeded, seed=int(seeded.seed) + len(study.trials))
    return study


def run_study(sweeper, arguments: list[str]) -> list:
    config, launcher = sweeper.config, sweeper.launcher
    metric = check_metric(config)
    space, fixed = search_space(sweeper.params, arguments, sweeper.hydra_context.config_loader)
    if not space:
        raise HydraException("hydra/sweeper=odin_optuna has nothing to search: give hydra.sweeper.params (or sweeps "
                             "on the command line) such as lora.r: choice(8,16,32)")
    study = make_study(sweeper)
    for params in sweeper.enqueue:
        params = OmegaConf.to_container(params, resolve=True) if OmegaConf.is_config(params) else dict(params)
        unknown = sorted(set(params) - set(space))
        if unknown:
            raise HydraException(f"hydra.sweeper.enqueue: {', '.join(unknown)} not in the search space "
                                 f"({', '.join(space)})")
        study.enqueue_trial(params, skip_if_exists=True)

    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    out = sweep_dir / sweeper.results_file
    log.info("Optuna study %r (%s): %s %s over %s; %d trials in batches of %d; sampler %s, storage %s",
             study.study_name, optuna.__version__, sweeper.direction, metric or "the returned value",
             ", ".join(f"{k} ~ {v}" for k, v in space.items()), sweeper.n_trials, sweeper.n_jobs,
             type(study.sampler).__name__, sweeper.storage or "in memory")
    finished = [t for t in study.trials if t.state.is_finished()]
    if finished:
        log.info("Resuming: the study has %d finished trials (best so far: %s)", len(finished),
                 results(study, metric)["best_value"])

    returns, left, next_job = [], sweeper.n_trials, 0
    while left > 0:
        trials = [study.ask(space) for _ in range(min(sweeper.n_jobs, left))]
        left -= len(trials)
        numbers = [t.number for t in trials]
        # Job n is trial n where the study's numbering allows it (a resumed study goes on counting).
        first = numbers[0] if numbers == list(range(numbers[0], numbers[0] + len(numbers))) else next_job
        untold = {t.number: t for t in trials}
        try:
            batch = []
            for trial in trials:
                overrides = trial_overrides(fixed, trial.params)
                trial.set_user_attr("overrides", overrides)
                batch.append(overrides)
            sweeper.validate_batch_is_legal(batch)
            jobs = launcher.launch(batch, initial_job_idx=first)
            for trial, job in zip(trials, jobs):
                value, why = outcome(job)
                if job_dir(job):
                    trial.set_user_attr("job_dir", job_dir(job))
                if value is None:
                    trial.set_user_attr("error", why)
                    study.tell(trial, state=TrialState.FAIL)
                    log.warning("Trial %d FAILED (%s); the search goes on", trial.number, why)
                else:
                    study.tell(trial, value)
                    log.info("Trial %d: %s = %.4f with %s", trial.number, metric or "value", value, trial.params)
                del untold[trial.number]
            returns.append(jobs)
        finally:  # interrupted or broken: no trial is left RUNNING in a stored study
            for trial in untold.values():
                study.tell(trial, state=TrialState.FAIL)
            write_results(out, results(study, metric))
        next_job = first + len(trials)

    summary = results(study, metric)
    if summary["best_trial"] is None:
        log.error("No trial of study %r completed; every trial's reason is in %s", study.study_name, out)
    else:
        log.info("Best trial %d: %s = %.4f with %s (%s); all trials in %s", summary["best_trial"],
                 metric or "value", summary["best_value"], summary["best_params"], summary["best_job_dir"], out)
    return returns


def write_results(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(summary, sort_keys=False, allow_unicode=True), encoding="utf-8")
