"""`python -m odin`: compose the config with Hydra and hand it to the task dispatcher."""

import hydra
from omegaconf import DictConfig

from odin.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from odin.app import run

    return run(cfg)


if __name__ == "__main__":
    main()
