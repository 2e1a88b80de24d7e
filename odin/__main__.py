"""`python -m odin`: compose the config with Hydra, run the task in its run context, exit non-zero if a job failed."""

import os
import sys

import hydra
from omegaconf import DictConfig

from odin.schema import register_configs

register_configs()

# The user's own HYDRA_FULL_ERROR (None: unset), which `run_main` replaces while Hydra composes the config.
_users_full_error: str | None = None


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    # Composed: from here on Hydra reports errors as it always does (a task's crash: its traceback, shortened).
    _restore_full_error()
    from odin.app import run

    return run(cfg)


def cli() -> None:
    from odin import distributed

    if distributed.is_distributed():
        # Started by torchrun / accelerate launch: the ranks agree on the run's start (its directory name) first.
        distributed.start_stamp()
    run_main()
    distributed.shutdown()
    from odin.app import exit_status

    # Failed jobs were recorded without stopping the process (a sweep goes on); the exit status still says so.
    sys.exit(exit_status())


def run_main() -> None:
    """main(), except that a config Hydra cannot compose because of odin's settings (an unknown key, a setting under
    a data source the data config leaves out) ends with odin's one-line message rather than Hydra's advice (for
    `lora.rnk=8`: add the key with `+`). Nothing is written by then: Hydra composes before it makes the run dir.

    Hydra prints a composition error and exits inside main() unless HYDRA_FULL_ERROR=1 makes it raise the error, so
    that is set until the config is composed; any other error goes to Hydra's own report, as without odin."""
    global _users_full_error
    from odin.validate import composition_problems, refuse

    _users_full_error = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as err:
        _restore_full_error()
        problems = composition_problems(err, sys.argv[1:])
        if not problems:
            _hydra_report(err)
        from odin.sweep import discard_unlaunched_sweep

        discard_unlaunched_sweep()  # a sweep whose jobs' configs cannot be composed leaves no directory either
        refuse(problems)
    finally:
        _restore_full_error()


def _restore_full_error() -> None:
    if _users_full_error is None:
        os.environ.pop("HYDRA_FULL_ERROR", None)
    else:
        os.environ["HYDRA_FULL_ERROR"] = _users_full_error


def _hydra_report(err: Exception) -> None:
    """Hydra's report of an error it raised while composing, as @hydra.main gives it (then exit 1); with the user's
    HYDRA_FULL_ERROR=1, the error itself."""
    from hydra._internal.utils import run_and_report

    def again() -> None:
        raise err

    run_and_report(again)


if __name__ == "__main__":
    cli()
