"""odin's Optuna sweeper for Hydra (`hydra/sweeper=odin_optuna`), on current Optuna; see optuna_sweeper.py."""
