"""`python -m odin`: compose the config with Hydra, run the task in its run context, exit non-zero if a job failed."""

import sys

import hydra
from omegaconf import DictConfig

from odin.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from odin.app import run

    return run(cfg)


def cli() -> None:
    from odin import distributed
    from odin.data.overrides import check_source_overrides

    check_source_overrides(sys.argv[1:])  # before Hydra, which would stop with a bare AssertionError
    if distributed.is_distributed():
        # Started by torchrun / accelerate launch: the ranks agree on the run's start (its directory name) first.
        distributed.start_stamp()
    main()
    distributed.shutdown()
    from odin.app import exit_status

    # Failed jobs were recorded without stopping the process (a sweep goes on); the exit status still says so.
    sys.exit(exit_status())


if __name__ == "__main__":
    cli()
