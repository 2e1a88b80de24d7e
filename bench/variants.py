"""What the bench profilers share: `label:override,override,...` variants on the command line, composed on top of the
GPU benchmark's experiment, and a torch.profiler table."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser(doc: str | None) -> argparse.ArgumentParser:
    """--data DIR, --profile and the VARIANT list; each profiler adds its own options."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="a prepared data directory (task=prepare's data/)")
    p.add_argument("--profile", action="store_true", help="a torch.profiler table for the first variant")
    p.add_argument("variants", nargs="+", help="label:override,override,...")
    return p


def compose(overrides: list[str], output_dir: Path):
    """The config of `python -m odin +experiment=v16_smollm2_ade tracking=none <overrides>`."""
    from odin.schema import compose_config

    return compose_config(["+experiment=v16_smollm2_ade", "tracking=none", *overrides], output_dir)


def split(variant: str) -> tuple[str, list[str]]:
    label, _, spec = variant.partition(":")
    return label, [o for o in spec.split(",") if o]


def import_unsloth_if_used(variants: list[str]) -> None:
    if any("backend=unsloth" in v for v in variants):
        import unsloth  # noqa: F401  (Unsloth patches transformers, PEFT and TRL: it must be imported first)


def print_profile(prof) -> None:
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25), flush=True)
    print(prof.key_averages().table(sort_by="self_device_time_total", row_limit=15), flush=True)


def model_dir(overrides: list[str]) -> str:
    """The model directory `python -m odin <overrides>` loads (a random model is built and cached first)."""
    import tempfile

    from odin.modeling.load import pretrained_dir

    cfg = compose(overrides, Path(tempfile.mkdtemp(prefix="odin-model-dir-")))
    return pretrained_dir(cfg.model, cfg.paths.cache_dir)


if __name__ == "__main__":
    # python bench/variants.py model-dir OVERRIDE ...: for the plain baselines, which take a model directory.
    import sys

    if sys.argv[1:2] != ["model-dir"]:
        sys.exit("usage: python bench/variants.py model-dir OVERRIDE ...")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(model_dir(sys.argv[2:]))
