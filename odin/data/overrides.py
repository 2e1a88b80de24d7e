"""Command-line settings of a corpus the data config does not use, caught before Hydra composes.

`data=ade data.sources.bc5cdr.weight=0.5` names a key under `data.sources.bc5cdr`, which data=ade leaves null (the
source is not read). Hydra then stops inside OmegaConf with a bare `AssertionError: Unexpected type for root:
NoneType` before odin sees the config, so this check runs first, in `python -m odin` (odin/__main__.py): it composes
the command (each combination of a sweep, the saved sweep's params included) without those keys and says which
source is missing and what to do.
"""

from __future__ import annotations

import itertools
import re
import sys
from typing import Iterable

SOURCE_KEY = re.compile(r"^\+{0,2}data\.sources\.(\w+)\.")
MAX_COMBINATIONS = 32  # a sweep's first combinations; one data config per combination is all this needs


def check_source_overrides(args: Iterable[str]) -> None:
    """Exit with a clear message when an override sets a key of a source the composed data config leaves null."""
    problem = null_source_problem(list(args))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(1)


def null_source_problem(args: list[str]) -> str | None:
    """The message for the first `data.sources.<name>.<key>=...` (from `args` or a saved sweep's params) whose
    `<name>` is null in the data config it would apply to; None when there is none, or the command does not compose
    for other reasons (Hydra then reports those itself)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    lines = [a for a in args if "=" in a and not a.startswith("-")]  # overrides, not flags such as -m or --cfg
    if not any(SOURCE_KEY.match(a) or a.lstrip("+").startswith("hparams_search=") for a in lines):
        return None
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(lines)
        saved = _saved_sweep_params([o.input_line for o in parsed if not o.is_sweep_override()])
        # The saved sweep's params first: the command line wins over them, as in the sweep itself.
        parsed = parser.parse_overrides(saved) + parsed
    except HydraException:
        return None
    targets = {o.get_key_element().lstrip("+"): o.input_line for o in parsed if SOURCE_KEY.match(o.key_or_group)}
    if not targets:
        return None
    # Only what can change the data config: config groups (data=, +experiment=, ...) and data.* keys.
    choices = [_values(o) for o in parsed if not SOURCE_KEY.match(o.key_or_group) and not o.is_hydra_override()
               and ("." not in o.key_or_group or o.key_or_group.startswith("data."))]
    swept = any(len(c) > 1 for c in choices)
    for combination in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
        cfg = _compose(list(combination))
        if cfg is None:
            continue
        for key, line in targets.items():
            name = SOURCE_KEY.match(key).group(1)
            if name in cfg.data.sources and cfg.data.sources[name] is None:
                where = f" (in the job with {' '.join(c for c in combination if c)})" if swept else ""
                return (f"{line}: data={cfg.data.name}{where} does not read the {name} source (data.sources.{name} "
                        f"is null there), so it has no {key.split('.', 3)[3]} to set. {_fix(name, args)}")
    return None


def _fix(name: str, args: list[str]) -> str:
    """The command again with a data config that reads the source: data=mix when it does (its weights mix the
    corpora), else data=<name>."""
    import shlex

    from omegaconf import OmegaConf

    from odin.schema import CONF_DIR

    mix = CONF_DIR / "data" / "mix.yaml"
    in_mix = mix.is_file() and OmegaConf.load(mix).get("sources", {}).get(name) is not None
    data = "mix" if in_mix else name
    rest = [a for a in args if not a.startswith("data=")]
    command = shlex.join(["python", "-m", "odin", *[a for a in rest if a.startswith("-")], f"data={data}",
                          *[a for a in rest if not a.startswith("-")]])
    if in_mix:
        return (f"Use a data config that reads it: data=mix, where every corpus is a source with a weight "
                f"(data.sources.<name>.weight=0 leaves one out): {command}")
    return f"Use a data config that reads it: {command}"


def _values(override) -> list[str]:
    """The overrides one command-line override stands for: each value of a sweep, or itself."""
    if override.is_sweep_override():
        if not override.is_discrete_sweep():  # an interval (Optuna) of a key that cannot null a source
            return [""]
        try:
            return [f"{override.get_key_element()}={v}" for v in override.sweep_string_iterator()]
        except Exception:  # a glob needs Hydra's config loader: leave the key out
            return [""]
    return [override.input_line]


def _saved_sweep_params(overrides: list[str]) -> list[str]:
    """`hydra.sweeper.params` of a saved sweep (+hparams_search=...) as override lines."""
    if not any(o.lstrip("+").startswith("hparams_search=") for o in overrides):
        return []
    cfg = _compose(overrides, hydra=True)
    params = cfg.hydra.sweeper.get("params") if cfg is not None else None
    return [f"{k}={v}" for k, v in (params or {}).items()]


def _compose(overrides: list[str], hydra: bool = False):
    from hydra import compose, initialize_config_dir

    from odin.schema import CONF_DIR

    overrides = [o for o in overrides if o]  # "": a key left out (see _values)
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=hydra)
    except Exception:  # the command does not compose for another reason, which Hydra will report
        return None
