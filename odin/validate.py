"""Every setting a task will use, checked before any work starts.

Four layers, all reported together so one run shows every mistake:
0. secrets: no value holds a token (odin/secrets.py), however it got there (typed in, `${oc.env:HF_TOKEN}`): a config
   value is saved in .hydra/, logged and tracked, so a token belongs in the environment only;
1. keys: every key of the composed config is declared by odin's schema, however it got there (`+lora.rnk=8`,
   `++...`, an experiment file, a saved sweep); an unknown one is named with the closest valid key;
2. bounds: values within the bounds their schema field declares (odin/bounds.py);
3. the task's own checks: `check(cfg)` of its module (paths that must exist, combinations that cannot work).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import typing
from typing import Any, Iterator

from omegaconf import DictConfig, ListConfig
from omegaconf.errors import OmegaConfBaseException

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
    if len(problems) == 1:
        raise OdinError(problems[0])
    if problems:
        raise OdinError(f"{len(problems)} settings need fixing:\n" + "\n".join(f"  - {p}" for p in problems))


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
    names = [f.name for f in dataclasses.fields(schema)]
    for key, child, f, nested in _children(node, schema):
        path = f"{prefix}{key}"
        if f is None:
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
            hint = f"did you mean {prefix}{close[0]}? " if close else ""
            secret = (" A token is never a setting (it would be saved in .hydra/config.yaml): set HF_TOKEN or run "
                      "`hf auth login`.") if "token" in key.lower() else ""
            yield (f"{path} is not a setting odin knows ({hint}{schema.__name__} in odin/schema.py lists the valid "
                   f"ones); it would be ignored, so the run stops here.{secret}")
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


def bound_violations(node: DictConfig, schema, prefix: str = "") -> Iterator[str]:
    """A message for every value outside the bounds its schema field declares."""
    for key, child, f, nested in _children(node, schema):
        if f is None:
            continue
        if nested is not None and isinstance(child, DictConfig):
            yield from bound_violations(child, nested, f"{prefix}{key}.")
        elif (problem := out_of_bounds(child, f.metadata)) is not None:
            yield f"{prefix}{key}={child}: {problem}"
