"""training.compile: every transformer block compiled in place, the same loss and gradients as without, the same
saved weights' names; refused where it cannot apply."""

from __future__ import annotations

import copy

import pytest
import torch

from conftest import compose_cfg
from odin.errors import OdinError


def _tiny_lora(cfg):
    from odin.modeling.backends import load_for_training
    from odin.modeling.load import load_tokenizer

    tokenizer = load_tokenizer(cfg.model, cfg.paths.cache_dir, padding_side="right")
    return load_for_training(cfg, "hf", tokenizer), tokenizer


def test_every_block_is_compiled_and_the_weights_keep_their_names():
    from odin.modeling.speed import compile_blocks

    cfg = compose_cfg(["model=tiny_random", "training=smoke"])
    model, _ = _tiny_lora(cfg)
    keys = list(model.state_dict())
    assert compile_blocks(model) == cfg.model.random.num_hidden_layers
    # Module.compile wraps the call, not the module: checkpoints and adapters save under the same names.
    assert list(model.state_dict()) == keys
    blocks = [m for m in model.modules() if type(m).__name__ == "LlamaDecoderLayer"]
    assert blocks and all(b._compiled_call_impl is not None for b in blocks)


def test_a_model_without_named_blocks_is_refused():
    from odin.modeling.speed import compile_blocks

    with pytest.raises(OdinError, match="training.compile=false"):
        compile_blocks(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_the_unsloth_backend_is_refused_before_any_work(monkeypatch):
    from odin.modeling import backends
    from odin.tasks.train import check_libraries

    cfg = compose_cfg(["model=tiny_random", "training=smoke", "training.compile=true"])
    check_libraries(cfg)  # the hf backend: fine
    monkeypatch.setattr(backends, "resolve_backend", lambda model_cfg, full_finetuning=False: "unsloth")
    with pytest.raises(OdinError, match="Unsloth compiles its own"):
        check_libraries(cfg)


@pytest.mark.slow  # the compilation takes about a minute on 2 CPU cores
def test_compiled_blocks_give_the_same_loss_and_gradients():
    from odin.modeling.speed import compile_blocks

    cfg = compose_cfg(["model=tiny_random", "training=smoke"])
    model, tokenizer = _tiny_lora(cfg)
    from torch._dynamo.utils import counters

    compiled = copy.deepcopy(model)
    compile_blocks(compiled)
    counters.clear()
    torch.manual_seed(0)
    # Two batches of different lengths: dynamic shapes, no recompilation needed for the second.
    for length in (24, 40):
        ids = torch.randint(3, tokenizer.vocab_size, (4, length))
        results = []
        for m in (model, compiled):
            m.zero_grad()
            loss = m(input_ids=ids, labels=ids).loss
            loss.backward()
            grads = {n: p.grad.clone() for n, p in m.named_parameters() if p.requires_grad}
            results.append((loss.detach(), grads))
        (loss_a, grads_a), (loss_b, grads_b) = results
        assert torch.allclose(loss_a, loss_b, rtol=1e-4, atol=1e-5)
        assert grads_a.keys() == grads_b.keys() and grads_a
        for name in grads_a:
            assert torch.allclose(grads_a[name], grads_b[name], rtol=1e-3, atol=1e-5), name
    # The compiled model really ran compiled code: one graph for the block, shared by its layers and both lengths.
    assert counters["stats"]["unique_graphs"] >= 1
