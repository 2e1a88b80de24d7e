"""A Hydra sweeper that runs an Optuna study: `hydra/sweeper=odin_optuna` (conf/hparams_search/optuna.yaml).

Why odin has its own: hydra-optuna-sweeper 1.2.0 pins optuna 2.10, whose RDB storage fails under SQLAlchemy 2 (so a
study cannot be stored or resumed), which aborts the whole search when one trial returns no value ("Return value
must be float-castable"), and whose parameter importances break under numpy 2. This one is small and runs on
current Optuna:

- the search space comes from `hydra.sweeper.params` (Hydra's override grammar: choice, range, interval, tag(log));
- trials are asked from a seeded sampler (TPE by default) in batches of `n_jobs` and run through the configured
  Hydra launcher (basic, joblib, submitit), `n_trials` in all;
- a job that fails or returns no value (odin returns None for a failed job) is a FAILED trial and the search goes
  on; its reason (odin's failure.json) is kept with the trial;
- with `storage` and `study_name` the study lives in a database (sqlite:///optuna.db) and the same command resumes;
- the best trial's parameters and value, and every trial's state, go to `optimization_results.yaml` in the sweep
  directory after each batch.

No pruning: odin's jobs run in separate processes or on other machines, usually a batch at a time, and report one
value at the end; a pruned job would free nothing until its batch ends, and reporting during training would need a
storage every job can reach plus val generation at each evaluation.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class OdinOptunaSweeper(Sweeper):
    def __init__(self, params: Optional[Dict[str, str]] = None, direction: str = "maximize", n_trials: int = 8,
                 n_jobs: int = 1, sampler: Any = None, storage: Optional[str] = None,
                 study_name: Optional[str] = None, enqueue: Optional[List[Dict[str, Any]]] = None,
                 results_file: str = "optimization_results.yaml") -> None:
        self.params = dict(params or {})
        self.direction = direction
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.sampler = sampler
        self.storage = storage
        self.study_name = study_name
        self.enqueue = list(enqueue or [])
        self.results_file = results_file
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        from hydra_plugins.odin_optuna_sweeper._search import run_study  # Optuna is imported only now

        return run_study(self, arguments)
