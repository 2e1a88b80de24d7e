"""The sweeper's settings (`hydra.sweeper.*`), registered as `hydra/sweeper=odin_optuna` when Hydra scans plugins.

Only dataclasses and the ConfigStore here: Hydra imports every plugin module at start-up, so Optuna is imported
only once a sweep runs (_search.py). No `from __future__ import annotations`: Hydra's scan executes this module
before it is in sys.modules, where dataclasses look string annotations up.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class OdinOptunaSweeperConf:
    _target_: str = "hydra_plugins.odin_optuna_sweeper.optuna_sweeper.OdinOptunaSweeper"
    # The search space, in Hydra's override grammar: choice(8,16,32) or 8,16,32 (categorical), range(1,4) (integers
    # 1..3), interval(0.0,1.0) (float), tag(log,interval(1e-5,1e-3)) (log scale), tag(int,interval(1,64)). A plain
    # value is passed to every trial as it is (e.g. `data: mix`). Sweeps given on the command line join the space.
    params: Dict[str, str] = field(default_factory=dict)
    direction: str = "maximize"  # of the value the task function returns (odin: optimized_metric); or minimize
    n_trials: int = 8  # trials this command runs (a resumed study adds them to the ones it has)
    n_jobs: int = 1  # trials launched together as one batch: set the launcher's parallelism to match
    # Any Optuna sampler, built with hydra.utils.instantiate; seeded so a search can be repeated.
    sampler: Dict[str, Any] = field(
        default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": 42})
    # An Optuna storage URL (sqlite:///optuna.db, postgresql://...) and study name: the same pair resumes a study.
    # null: in memory, for this command only.
    storage: Optional[str] = None
    study_name: Optional[str] = None
    # Trials to run first with the given values (keys of `params`; the others are sampled), e.g. a known good
    # configuration. Each is enqueued once per study, so a resumed study does not repeat them.
    enqueue: List[Dict[str, Any]] = field(default_factory=list)
    # The file the best trial and every trial's state go to, in the sweep directory (rewritten after each batch).
    results_file: str = "optimization_results.yaml"


ConfigStore.instance().store(group="hydra/sweeper", name="odin_optuna", node=OdinOptunaSweeperConf, provider="odin")
