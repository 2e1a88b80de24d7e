"""`seed` (top level) varies training randomness; `data.seed` keeps the splits: a sweep over seed=1,2,3 trains the
same data three ways."""

from __future__ import annotations

import torch

from conftest import compose_cfg, task_ctx
from odin.tasks import prepare
from training_notes import TINY


def test_training_seed_follows_the_top_level_seed():
    assert compose_cfg([]).training.seed == 42
    assert compose_cfg(["seed=7"]).training.seed == 7
    assert compose_cfg(["+experiment=v16_smollm2_ade", "seed=3"]).training.seed == 3
    assert compose_cfg(["seed=7"]).data.seed == 42
    assert compose_cfg(["seed=7", "training.seed=5"]).training.seed == 5  # still settable on its own


def _lora_init(seed: int, tmp_path) -> dict[str, torch.Tensor]:
    from odin.modeling.backends.hf import load_for_training
    from odin.modeling.load import load_tokenizer

    cfg = compose_cfg([*TINY, f"seed={seed}"], output_dir=tmp_path / f"seed{seed}")
    model = load_for_training(cfg, load_tokenizer(cfg.model, cfg.paths.cache_dir))
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_A" in k}


def test_two_seeds_give_different_lora_init_and_the_same_splits(tmp_path):
    one, two, one_again = _lora_init(1, tmp_path), _lora_init(2, tmp_path), _lora_init(1, tmp_path)
    assert one.keys() == two.keys() and one
    assert all(torch.equal(one[k], one_again[k]) for k in one)
    assert not any(torch.equal(one[k], two[k]) for k in one)

    data = {}
    for seed in (1, 2):
        cfg = compose_cfg(["task=prepare", "model=tiny_random", "data.sources.synthetic.num_examples=80",
                           f"seed={seed}"], output_dir=tmp_path / f"prepare{seed}")
        prepare.run(task_ctx(cfg))
        data[seed] = tmp_path / f"prepare{seed}" / "data"
    for split in ("train", "val", "test"):
        assert (data[1] / f"{split}.jsonl").read_bytes() == (data[2] / f"{split}.jsonl").read_bytes()
