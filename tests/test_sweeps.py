"""Saved sweeps do what their headers say, the Optuna sweeper searches on val and survives failed trials, and a
data-mix override of a corpus the data config does not read fails with a clear message before Hydra composes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import optuna
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from conftest import TINY_RUN, odin_cli
from hydra_plugins.odin_optuna_sweeper._search import search_space, trial_overrides
from odin.schema import CONF_DIR, OdinConfig
from odin.validate import bound_violations, unknown_keys

SAVED_SWEEPS = sorted(p.stem for p in (CONF_DIR / "hparams_search").glob("*.yaml"))
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def header_commands(name: str) -> list[list[str]]:
    """The `python -m odin ...` lines of a saved sweep's header comment, as argument lists."""
    lines = (CONF_DIR / "hparams_search" / f"{name}.yaml").read_text().splitlines()
    return [shlex.split(m.group(1)) for line in lines if (m := re.match(r"#\s+python -m odin (.*)", line))]


def compose_all(overrides: list[str], hydra: bool = False):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=hydra)


def jobs_of(args: list[str]) -> list[list[str]]:
    """The overrides of each job the command starts, expanded as its sweeper expands them (the saved sweep's params,
    then the command line); for an Optuna search, three trials from its own sampler."""
    overrides = [a for a in args if a not in ("-m", "--multirun")]
    cfg = compose_all(overrides, hydra=True)
    assert cfg.hydra.mode.name == "MULTIRUN", "a saved sweep runs as a multirun without -m"
    sweeper = cfg.hydra.sweeper
    params = {str(k): str(v) for k, v in (sweeper.params or {}).items()}
    task_args = [a for a in overrides if not a.startswith("hydra.") and not a.startswith("hydra/")]
    if sweeper._target_ == BASIC_SWEEPER:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        lines = [f"{k}={v}" for k, v in params.items()] + task_args
        (batch,) = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(lines), None)
        return batch
    space, fixed = search_space(params, task_args)
    study = optuna.create_study(direction=sweeper.direction, sampler=instantiate(sweeper.sampler))
    return [trial_overrides(fixed, study.ask(space).params) for _ in range(3)]


@pytest.mark.parametrize("name", SAVED_SWEEPS)
def test_every_saved_sweep_runs_as_its_header_says(name):
    commands = header_commands(name)
    assert commands, f"conf/hparams_search/{name}.yaml: no `python -m odin ...` line in its header"
    for args in commands:
        assert f"+hparams_search={name}" in args, f"{name}: the header command must add the sweep with +"
        jobs = jobs_of(args)
        assert len(jobs) >= 2, f"{name}: {args} expands to {len(jobs)} job"
        configs = []
        for job in jobs:
            cfg = compose_all(job)
            problems = list(unknown_keys(cfg, OdinConfig)) + list(bound_violations(cfg, OdinConfig))
            assert not problems, f"{name}: job {job}: {problems}"
            configs.append(cfg)
        assert len({str(c) for c in configs}) == len(configs), f"{name}: two jobs compose to the same config"


def test_lora_rank_sweeps_presets_so_alpha_follows_rank():
    ranks = [(cfg.lora.r, cfg.lora.alpha) for cfg in map(compose_all, jobs_of(["+hparams_search=lora_rank"]))]
    assert ranks == [(8, 8), (16, 16), (32, 32), (64, 64)]


def test_the_optuna_search_maximizes_a_val_metric_over_the_issue_s_space():
    cfg = compose_all(["+experiment=v16", "+hparams_search=optuna"], hydra=True)
    assert cfg.optimized_metric == "val_relation_f1" and cfg.hydra.sweeper.direction == "maximize"
    assert cfg.hydra.sweeper.sampler == {"_target_": "optuna.samplers.TPESampler", "seed": 42}
    space, fixed = search_space(dict(cfg.hydra.sweeper.params), [])
    assert fixed == []
    assert space == {
        "lora.r": CategoricalDistribution([8, 16, 32, 64]),
        "lora.alpha": CategoricalDistribution([8, 16, 32, 64]),
        "training.learning_rate": FloatDistribution(5e-5, 2e-3, log=True),
        "training.epochs": IntDistribution(1, 5),
        "data.sources.bc5cdr.weight": FloatDistribution(0.0, 1.0),
    }


def test_search_space_grammar():
    space, fixed = search_space({"a": "range(1, 10, 3)", "b": "tag(int, interval(2, 6))", "c": "x,y", "d": "mix",
                                 "e": "range(0.5, 1.0, 0.25)"}, ["d=ade", "f=tag(log, interval(1, 100))"])
    assert space == {"a": IntDistribution(1, 7, step=3), "b": IntDistribution(2, 6), "c": CategoricalDistribution(["x", "y"]),
                     "e": FloatDistribution(0.5, 0.75, step=0.25), "f": FloatDistribution(1.0, 100.0, log=True)}
    assert fixed == ["d=ade"]  # the command line wins over the saved params
    assert trial_overrides(fixed, {"a": 4, "c": "y", "f": 1e-05}) == ["d=ade", "a=4", "c=y", "f=1e-05"]


@pytest.mark.slow  # a real Optuna search of several tiny trials, then its resumption
def test_an_optuna_search_goes_on_past_failed_trials_writes_the_best_and_resumes(tmp_path):
    """Three real trials through Hydra's multirun: two are made to fail (training.warmup_steps=-1 is refused before
    any work), one runs the tiny pipeline; the search goes on and writes the best trial. A second command resumes
    the study stored in SQLite."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    search = ["-m", "hydra/sweeper=odin_optuna", *TINY_RUN, "data.sources.synthetic.num_examples=80",
              "training.eval_every=1.0", "tracking=none", "optimized_metric=val_relation_f1",
              "lora.r=choice(4,8)", "lora.alpha=choice(4,8)", "training.learning_rate=tag(log,interval(1e-4,1e-2))",
              "data.sources.synthetic.weight=interval(0.5,1.0)", f"hydra.sweeper.storage={storage}",
              "hydra.sweeper.study_name=tiny"]
    res = odin_cli(*search, "training.warmup_steps=choice(-1,0)", "hydra.sweeper.n_trials=3",
                   "hydra.sweeper.enqueue=[{training.warmup_steps:-1,lora.r:4},{training.warmup_steps:0},"
                   "{training.warmup_steps:-1,lora.r:8}]", f"hydra.sweep.dir={tmp_path / 'first'}")
    assert res.returncode == 1, res.stderr[-3000:]  # a failed trial is a failed job: the exit status says so
    out = yaml.safe_load((tmp_path / "first" / "optimization_results.yaml").read_text())
    trials = out["trials"]
    assert [(t["number"], t["state"]) for t in trials] == [(0, "FAIL"), (1, "COMPLETE"), (2, "FAIL")]
    assert "training.warmup_steps=-1" in trials[0]["error"] and "Trial 0 FAILED" in res.stderr
    assert out["metric"] == "val_relation_f1" and out["best_trial"] == 1
    assert out["best_value"] == trials[1]["value"] == 0.0  # a 4-step random model finds no relation
    assert out["best_params"] == trials[1]["params"] and set(trials[1]["params"]) == {
        "lora.r", "lora.alpha", "training.learning_rate", "data.sources.synthetic.weight", "training.warmup_steps"}
    assert [t["params"]["lora.r"] for t in (trials[0], trials[2])] == [4, 8]  # enqueued; the rest sampled:
    assert all(0.5 <= t["params"]["data.sources.synthetic.weight"] <= 1.0 for t in trials)
    # Job n is trial n; it ran with the trial's values and scored val (the value) beside test.
    job = next((tmp_path / "first").glob("1_*"))
    assert str(job) == out["best_job_dir"] and (job / "val" / "evaluation_results.json").is_file()
    overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
    assert f"lora.r={trials[1]['params']['lora.r']}" in overrides
    assert f"training.learning_rate={trials[1]['params']['training.learning_rate']!r}" in overrides

    # The same study, one more trial (refused at once: warmup_steps fixed to -1)
    res = odin_cli(*search, "training.warmup_steps=-1", "hydra.sweeper.n_trials=1",
                   f"hydra.sweep.dir={tmp_path / 'second'}")
    assert "Resuming: the study has 3 finished trials" in res.stderr, res.stderr[-3000:]
    again = yaml.safe_load((tmp_path / "second" / "optimization_results.yaml").read_text())
    assert [t["number"] for t in again["trials"]] == [0, 1, 2, 3] and again["best_trial"] == 1
    assert next((tmp_path / "second").glob("3_*")).is_dir()


@pytest.mark.slow
@pytest.mark.corpus
def test_the_saved_optuna_search_runs_as_its_header_says(tmp_path, raw_data):
    """`python -m odin +experiment=v16 +hparams_search=optuna`, two trials on the tiny model and the real mix."""
    # v16 sets max_seq_length 1024: back to the tiny model's 256, in big batches, so the val loss is cheap
    res = odin_cli("+experiment=v16", "+hparams_search=optuna", *TINY_RUN, "data.max_tokens=200", "tracking=none",
                   "model.max_seq_length=256", "training.per_device_batch_size=32", "training.eval_every=1.0",
                   "hydra.sweeper.n_trials=2", f"paths.raw_data_dir={raw_data}", f"hydra.sweep.dir={tmp_path}",
                   timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    out = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert out["trials_complete"] == 2 and out["metric"] == "val_relation_f1"
    assert set(out["best_params"]) == {"lora.r", "lora.alpha", "training.learning_rate", "training.epochs",
                                       "data.sources.bc5cdr.weight"}
    for trial in out["trials"]:
        stats = json.loads((Path(trial["job_dir"]) / "data" / "stats.json").read_text())
        assert stats["settings"]["sources"] and trial["params"]["data.sources.bc5cdr.weight"] <= 1.0


def test_a_resumed_study_does_not_draw_the_first_command_s_values_again():
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from hydra_plugins.odin_optuna_sweeper._search import make_study

    space = {"x": FloatDistribution(0.0, 1.0)}
    sampler = {"_target_": "optuna.samplers.TPESampler", "seed": 42}
    storage = optuna.storages.InMemoryStorage()

    def command(n):
        sweeper = SimpleNamespace(direction="maximize", n_trials=n, n_jobs=1, sampler=sampler, storage=storage,
                                  study_name="s", config=OmegaConf.create({"hydra": {"sweeper": {"sampler": sampler}}}))
        study = make_study(sweeper)
        drawn = []
        for _ in range(n):
            trial = study.ask(space)
            study.tell(trial, 0.0)
            drawn.append(trial.params["x"])
        return drawn

    first, second = command(3), command(3)
    assert not set(first) & set(second)
    fresh = optuna.create_study(sampler=instantiate(sampler))
    assert fresh.ask(space).params["x"] == first[0]  # the first command is the seeded one


def test_an_optuna_search_refuses_to_optimize_a_test_score(tmp_path):
    res = odin_cli("+experiment=v16", "+hparams_search=optuna", "model=tiny_random", "optimized_metric=relation_f1",
                   f"hydra.sweep.dir={tmp_path / 'sweep'}", timeout=120)
    assert res.returncode == 1
    assert "optimized_metric=relation_f1, which is scored on the test split" in res.stderr
    assert "optimized_metric=val_relation_f1" in res.stderr
    assert not list((tmp_path / "sweep").glob("*/.hydra"))  # no job started


def test_job_dir_names_stay_short_enough_for_any_filesystem():
    from odin.sweep import MAX_JOB_DIRNAME, job_dirname

    assert job_dirname(3, "lora=r16") == "3_lora=r16" and job_dirname(0, "") == "0"
    assert job_dirname(2, "lora.r=8,training.learning_rate=0.0002051338263087451,x=1.5") == \
        "2_lora.r=8,training.learning_rate=0.0002051,x=1.5"
    overrides = ",".join(f"training.learning_rate{i}=0.0002051" for i in range(20))
    long, other = job_dirname(1, overrides), job_dirname(1, overrides + "x")
    assert len(long.encode()) <= MAX_JOB_DIRNAME and long.startswith("1_training.learning_rate0=")
    assert long != other  # cut names stay apart: they end in a hash of the whole name
