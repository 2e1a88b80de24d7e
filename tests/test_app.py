"""The run context (odin/app.py): seeding."""

from __future__ import annotations

import random

import numpy as np
import torch

from odin.app import seed_everything


def draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seed_everything_seeds_python_numpy_and_torch():
    seed_everything(123, torch_too=True)
    first = draws()
    random.random(), np.random.rand(), torch.rand(1)  # move every generator on
    seed_everything(123, torch_too=True)
    assert draws() == first  # the same seed: the same numbers from each of the three
    seed_everything(124, torch_too=True)
    other = draws()
    assert all(a != b for a, b in zip(first, other))  # each follows the seed


def test_tasks_without_a_model_leave_torch_unseeded():
    torch.manual_seed(5)
    expected = float(torch.rand(1))
    torch.manual_seed(5)
    seed_everything(123, torch_too=False)
    assert float(torch.rand(1)) == expected
    random.seed(123)
    python_draw = random.random()
    seed_everything(123, torch_too=False)
    assert random.random() == python_draw
