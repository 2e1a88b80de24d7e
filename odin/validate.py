"""Every setting a task will use, checked before any work starts.

Four layers, all reported together so one run shows every mistake:
0. secrets: no value holds a token (odin/secrets.py), however it got there (typed in, `${oc.env:HF_TOKEN}`): a config
   value is saved in .hydra/, logged and tracked, so a token belongs in the environment only;
1. keys: every key of the composed config is declared by odin's schema, however it got there (`lora.rnk=8`,
   `+lora.rnk=8`, `++...`, an experiment file, a saved sweep); an unknown one is named with the closest valid key;
2. bounds: values within the bounds their schema field declares (odin/bounds.py);
3. the task's own checks: `check(cfg)` of its module (paths that must exist, combinations that cannot work).

A key Hydra itself cannot compose (`lora.rnk=8` without `+`, an experiment file setting `lora: {rnk: 8}`, a setting
under a source the data config leaves out) stops Hydra before the task starts; `composition_problems` turns that
exception into the same one-line message (odin/__main__.py), and `override_problems` checks a sweep's overrides
before its first job (odin/sweep.py).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import itertools
import re
import sys
import typing
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from odin.bounds import out_of_bounds
from odin.errors import OdinError


def validate(cfg: DictConfig) -> None:
    """Raise one OdinError listing every problem with `cfg` for its task, or return when there is none."""
    from odin.app import TASKS
    from odin.schema import OdinConfig

    problems = list(secret_values(cfg))
    problems += list(unknown_keys(cfg, OdinConfig)) + list(bound_violations(cfg, OdinConfig))
    if not problems:  # the task's checks read the config, so they run on a config whose keys are known
        module = TASKS[str(cfg.task)].module
        check = getattr(importlib.import_module(module), "check", None) if module else None
        if check is not None:
            try:
                check(cfg)
            except OdinError as err:
                problems.append(str(err))
    if problems:
        raise OdinError(problems_message(problems))


def problems_message(problems: list[str]) -> str:
    """One problem as it is; several as a list under one line."""
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} settings need fixing:\n" + "\n".join(f"  - {p}" for p in problems)


def refuse(problems: list[str]) -> typing.NoReturn:
    """Stop the process before any work: odin's message on stderr (no traceback), exit status 1. For checks that run
    inside Hydra but outside a task (a sweep's start), where an exception would be Hydra's to report."""
    print(f"error: {problems_message(problems)}", file=sys.stderr)
    raise SystemExit(1)


def _fields(schema) -> dict[str, tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(schema)
    return {f.name: (f, hints[f.name]) for f in dataclasses.fields(schema)}


def _dataclass_of(annotation) -> type | None:
    """The dataclass a field holds (through Optional[...]), or None for a plain value, list or dict."""
    if dataclasses.is_dataclass(annotation):
        return annotation
    for arg in typing.get_args(annotation):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def _children(node: DictConfig, schema) -> Iterator[tuple[str, Any, dataclasses.Field | None, type | None]]:
    fields = _fields(schema)
    for key in node.keys():
        if key == "hydra":  # Hydra's own settings, when the config still carries them
            continue
        if key not in fields:
            yield str(key), None, None, None
            continue
        f, annotation = fields[key]
        try:
            child = node[key]
        except OmegaConfBaseException:  # unset or unresolvable outside a run (e.g. ${hydra:...}): nothing to check
            child = None
        yield str(key), child, f, _dataclass_of(annotation)


def unknown_keys(node: DictConfig, schema, prefix: str = "") -> Iterator[str]:
    """A message for every key of `node` that `schema` does not declare, with the closest declared key."""
    for key, child, f, nested in _children(node, schema):
        path = f"{prefix}{key}"
        if f is None:
            yield unknown_key_message(path, schema)
        elif nested is not None and isinstance(child, DictConfig):
            yield from unknown_keys(child, nested, f"{path}.")


def secret_values(node, prefix: str = "") -> Iterator[str]:
    """A message for every string value of `node` that holds a secret; the message names the key, never the value."""
    from odin.secrets import find_secret

    keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        if key == "hydra":
            continue
        path = f"{prefix}{key}" if isinstance(node, DictConfig) else f"{prefix[:-1]}[{key}]"
        try:
            child = node[key]
        except OmegaConfBaseException:  # unresolvable outside a run (e.g. ${hydra:...}): not a user's value
            continue
        if isinstance(child, (DictConfig, ListConfig)):
            yield from secret_values(child, f"{path}.")
        elif isinstance(child, str) and (what := find_secret(child)) is not None:
            yield (f"{path} holds {what}. odin takes no secret through its config (a value is saved in .hydra/, "
                   "logged and sent to MLflow as a param), so the run stops here: remove it; a Hugging Face token "
                   "is read from HF_TOKEN or `hf auth login` by the code that needs it")


# --- one key at a time: what the command line, an experiment file or a sweep names ----------------------------------


def unknown_key_message(path: str, schema) -> str:
    """`path` is not declared by `schema` (the dataclass that would hold it): the key, the closest valid one, and the
    file whose class lists the valid ones."""
    close = difflib.get_close_matches(path, schema_keys(), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    where = f"{schema.__name__} in {_source_file(schema)} lists the valid ones"
    secret = (" A token is never a setting (it would be saved in .hydra/config.yaml): set HF_TOKEN or run "
              "`hf auth login`.") if "token" in path.lower() else ""
    return f"{path} is not a setting odin knows; {hint}({where}){secret}"


def key_problem(path: str) -> str | None:
    """The unknown-key message for a dotted key, or None when odin's schema declares it (Hydra's keys pass)."""
    from odin.schema import OdinConfig

    if path == "hydra" or path.startswith("hydra."):
        return None
    schema = OdinConfig
    parts = path.split(".")
    for depth, part in enumerate(parts):
        fields = _fields(schema)
        if part not in fields:
            return unknown_key_message(path, schema)
        nested = _dataclass_of(fields[part][1])
        if nested is None:  # a value: a list or dict may be indexed further, a plain value may not
            is_container = typing.get_origin(fields[part][1]) in (list, dict)
            return None if depth == len(parts) - 1 or is_container else unknown_key_message(path, schema)
        schema = nested
    return None


def null_source_problem(cfg: DictConfig, path: str) -> str | None:
    """When a part of `path` is null in `cfg` (a data source this data config leaves out: `data=ade
    data.sources.bc5cdr.weight=0.5`), the message saying so and which data configs use it; else None."""
    from odin.schema import CONF_DIR

    parts = path.split(".")
    for depth in range(1, len(parts)):
        node = ".".join(parts[:depth])
        try:
            value = OmegaConf.select(cfg, node, throw_on_missing=False)
        except OmegaConfBaseException:
            return None
        if value is not None:
            continue
        if parts[:2] != ["data", "sources"] or depth != 3:
            return None
        source = parts[2]
        users = sorted(f"data={p.stem}" for p in (CONF_DIR / "data").glob("*.yaml")
                       if source in (OmegaConf.load(p).get("sources") or {}))
        use = f"choose a data config that uses it ({', '.join(users)})" if users else "add it to a data config"
        return (f"{path} sets a field of the {source} source, which data={cfg.data.name} leaves out "
                f"({node} is null): {use}, or drop the setting")
    return None


def override_problems(cfg: DictConfig, overrides: list[str], check_sources: bool = True) -> list[str]:
    """A message for each override (`key=value`, `+key=value`, a sweep `key=a,b`) that names a key odin does not
    know, or (with check_sources) one under a data source `cfg` leaves out. Config group choices (`lora=r16`,
    `+experiment=v16`: the groups of cfg.hydra.runtime.choices) and Hydra's own keys are not settings."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    groups = (set(cfg.hydra.runtime.choices) if "hydra" in cfg else set()) | _config_groups()
    problems = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if override.is_delete() or override.is_hydra_override() or key in groups or "/" in key:
            continue
        problem = key_problem(key) or (null_source_problem(cfg, key) if check_sources else None)
        if problem:
            problems.append(problem)
    return problems


def _config_groups() -> set[str]:
    """The top-level config groups of the Hydra app now running (`experiment`, `lora`, ...). A sweep's own config
    lacks the choice of a group only its jobs choose (`+experiment=glob(*)`), so its runtime choices miss it."""
    from hydra.core.global_hydra import GlobalHydra

    if not GlobalHydra.instance().is_initialized():
        return set()
    return set(GlobalHydra.instance().config_loader().list_groups(""))


def schema_keys(schema=None, prefix: str = "") -> list[str]:
    """Every dotted key odin's schema declares (`lora.r`, `data.sources.ade.path`, ...): the candidates for `did
    you mean`."""
    from odin.schema import OdinConfig

    keys = []
    for name, (_, annotation) in _fields(schema or OdinConfig).items():
        keys.append(prefix + name)
        nested = _dataclass_of(annotation)
        if nested is not None:
            keys.extend(schema_keys(nested, f"{prefix}{name}."))
    return keys


def _source_file(schema) -> str:
    """Where a schema class is written, relative to the repository (odin/schema.py, odin/data/sources/ade.py)."""
    module = sys.modules.get(schema.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        return schema.__module__
    root = Path(__file__).resolve().parents[1]
    try:
        return Path(file).resolve().relative_to(root).as_posix()
    except ValueError:
        return Path(file).name


# --- what Hydra raised while composing ----------------------------------------------------------------------------


def composition_problems(err: BaseException, argv: list[str]) -> list[str]:
    """odin's messages for a config Hydra could not compose because of a key odin does not know or a setting under a
    left-out data source; none for any other error (Hydra reports those itself). `argv`: the command line."""
    cause = err.__cause__ or err.__context__  # Hydra chains the OmegaConf error one way or the other
    full_key = getattr(cause, "full_key", None)
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and full_key:
        problem = key_problem(str(full_key))
        if problem:
            # Hydra names the config file a bad key came from: "In 'experiment/bad': ConfigKeyError ..."
            origin = re.match(r"In '([^']+)'", str(err))
            return [(f"{origin.group(1)}.yaml: " if origin else "") + problem]
    from hydra._internal.utils import get_args_parser  # the parser @hydra.main reads the command line with
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import ConfigCompositionException, MissingConfigException

    if isinstance(err, MissingConfigException) and err.options is not None and err.missing_cfg_file:
        return [missing_choice_message(str(err.missing_cfg_file), list(err.options))]

    # What composing raises (OmegaConf's update asserts when a setting's parent is null); anything else is not ours.
    if not isinstance(err, (ConfigCompositionException, OmegaConfBaseException, AssertionError)):
        return []
    # The command line: compose it with only its group choices (the settings are what may be wrong) and check each,
    # once per combination of swept choices (`-m data=ade,mix ...`), as the sweep's jobs would compose it.

    try:
        args = get_args_parser().parse_args(argv)
        parsed = OverridesParser.create().parse_overrides(args.overrides)
    except Exception:
        return []
    choices = [o for o in parsed if _is_group_choice(o.key_or_group)]
    fixed = [o.input_line for o in choices if not o.is_sweep_override()]
    swept = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] for o in choices if o.is_sweep_override()]
    for combination in itertools.islice(itertools.product(*swept), 32):
        try:
            cfg = _compose(args, fixed + list(combination))
        except Exception:  # not a command line Hydra can compose even without the settings: Hydra says why
            return []
        problems = override_problems(cfg, list(args.overrides))
        if problems:
            jobs = f" (in the jobs with {' '.join(combination)})" if combination else ""
            return [problem + jobs for problem in problems]
    return []


def missing_choice_message(missing: str, options: list[str]) -> str:
    """`lora/r99` is not a config of its group: the closest one and the group's configs as a user picks them (not
    the schema odin stores in each group, which Hydra would list as a choice too)."""
    from odin.schema import group_options

    group, _, name = missing.rpartition("/")
    options = group_options(options)
    if not options:
        return f"{group}={name}: the {group} group has no configs"
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    listed = f"did you mean {close[0]}? Its configs" if close else "its configs"
    return f"{group}={name}: the {group} group has no config {name} (conf/{group}/); {listed}: {', '.join(options)}"


def _is_group_choice(key: str) -> bool:
    """`lora`, `+experiment`, `hydra/launcher`: a config group; `task`, `seed`, `lora.r`: a setting."""
    from odin.schema import OdinConfig

    fields = _fields(OdinConfig)
    return "." not in key and (key not in fields or _dataclass_of(fields[key][1]) is not None)


def _compose(args, overrides: list[str]) -> DictConfig:
    """The config for `overrides`, composed from the same config directories as the command line's."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from odin.schema import CONF_DIR

    conf = CONF_DIR
    if args.config_path:
        conf = (Path(__file__).resolve().parent / args.config_path).resolve()
    if args.config_dir:
        overrides = overrides + [f"hydra.searchpath=[file://{Path(args.config_dir).resolve()}]"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose(args.config_name or "config", overrides=overrides, return_hydra_config=True)


def bound_violations(node: DictConfig, schema, prefix: str = "") -> Iterator[str]:
    """A message for every value outside the bounds its schema field declares."""
    for key, child, f, nested in _children(node, schema):
        if f is None:
            continue
        if nested is not None and isinstance(child, DictConfig):
            yield from bound_violations(child, nested, f"{prefix}{key}.")
        elif (problem := out_of_bounds(child, f.metadata)) is not None:
            yield f"{prefix}{key}={child}: {problem}"
