"""The parts of `python -m odin --help` that come from code (the page itself: conf/hydra/help/odin.yaml).

Hydra's help template is text with interpolations, so the `odin_help` resolver (registered in odin/schema.py) fills
in the task list from odin.app.TASKS and the config groups as Hydra finds them, hiding the `*_schema` entries odin
stores in the ConfigStore to type-check each group (they are not options a user picks).
"""

from __future__ import annotations

import textwrap

WIDTH = 116


def section(name: str) -> str:
    if name == "tasks":
        return tasks()
    if name == "groups":
        return groups()
    raise ValueError(f"no help section {name!r}; odin_help knows tasks, groups")


def tasks() -> str:
    """One line per task: its name and summary, in the task table's order."""
    from odin.app import TASKS

    width = max(map(len, TASKS))
    return "\n".join(f"  {name:<{width}}  {spec.summary}" for name, spec in TASKS.items())


def groups() -> str:
    """Each config group (Hydra's own hydra/ groups aside) with its options, wrapped, `*_schema` entries left out."""
    from hydra.core.global_hydra import GlobalHydra

    from odin.schema import group_options

    loader = GlobalHydra.instance().config_loader()
    lines = []
    names = _all_groups(loader, "")
    width = max(map(len, names)) + 1
    for group in names:
        options = group_options(loader.get_group_options(group))
        if options:
            lines.extend(textwrap.wrap(" ".join(options), WIDTH, initial_indent=f"  {group + ':':<{width}} ",
                                       subsequent_indent=" " * (width + 3)))
    return "\n".join(lines)


def _all_groups(loader, parent: str) -> list[str]:
    found = []
    for group in sorted(loader.list_groups(parent)):
        path = f"{parent}/{group}" if parent else group
        if path == "hydra":
            continue
        found.append(path)
        found.extend(_all_groups(loader, path))
    return found

