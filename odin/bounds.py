"""Numeric bounds on config fields, declared beside the field they bound and checked before any work starts.

    r: int = bounded(32, ge=1)            # LoRA rank 0 cannot train
    dropout: float = bounded(0.0, ge=0, lt=1)

A bound lives in the dataclass field's metadata, so the schema stays the one place that says what a setting may be;
`odin.validate` walks the composed config and reports every value outside its bounds, naming the key. None (an
optional setting left unset) is always allowed.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

_OPS = {"ge": (">=", lambda v, b: v >= b), "gt": (">", lambda v, b: v > b),
        "le": ("<=", lambda v, b: v <= b), "lt": ("<", lambda v, b: v < b)}


def bounded(default: Any, *, ge=None, gt=None, le=None, lt=None, why: str = ""):
    """A dataclass field with `default` and bounds (any of ge, gt, le, lt); `why` is added to the error message."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return field(default=default, metadata={"bounds": bounds, "why": why})


def out_of_bounds(value: Any, metadata) -> str | None:
    """What is wrong with `value` under a field's bounds ("must be >= 1"), or None when it is within them."""
    bounds = metadata.get("bounds") if metadata else None
    if not bounds or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if all(_OPS[op][1](value, limit) for op, limit in bounds.items()):
        return None
    wanted = " and ".join(f"{_OPS[op][0]} {limit:g}" for op, limit in bounds.items())
    why = metadata.get("why")
    return f"must be {wanted}" + (f" ({why})" if why else "")
