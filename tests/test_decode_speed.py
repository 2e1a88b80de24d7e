"""generation.static_cache: the same greedy answers as the growing cache (on the CPU nothing is compiled; on CUDA
transformers compiles the decoding step of the same computation)."""

from __future__ import annotations

import pytest
from omegaconf import open_dict

from conftest import compose_cfg
from odin.decode_speed import prepare_decoding
from odin.format import build_prompt
from odin.inference import generate
from tiny_adapter import make_tiny_adapter

TEXTS = ["Patient given enalapril; acute renal failure noted.", "Metformin was started for type 2 diabetes.",
         "Rash after amoxicillin.", "Nausea and vomiting developed after the first dose of cisplatin, which was "
         "given for ovarian cancer; ondansetron was added.", "Lithium toxicity with tremor."]


@pytest.mark.parametrize("adapter_kind", ["merged", "peft"])
def test_static_cache_gives_the_same_greedy_answers(tmp_path, monkeypatch, adapter_kind):
    from peft import PeftModel
    from transformers import StaticCache

    from odin.modeling.adapter import load_for_inference
    from odin.modeling.load import load_base_model, peft_quietly

    cfg = compose_cfg(["model=tiny_random", "generation.max_new_tokens=48", "generation.batch_size=3"],
                      output_dir=tmp_path / "run")
    adapter = make_tiny_adapter(cfg, tmp_path / "adapter")
    if adapter_kind == "merged":  # as evaluation loads a LoRA adapter on full-precision weights
        model, tokenizer = load_for_inference(cfg, adapter, device="cpu")
    else:  # as on 4-bit weights, where the adapter stays a PEFT wrapper
        _, tokenizer = load_for_inference(cfg, adapter, device="cpu")
        with peft_quietly():
            model = PeftModel.from_pretrained(load_base_model(cfg.model, cfg.paths.cache_dir, device="cpu"), adapter)
        model.eval()
    prompts = [build_prompt(t) for t in TEXTS]  # two batches of different widths
    growing = generate(model, tokenizer, prompts, cfg.generation, progress=False)
    assert sum(len(a) for a in growing) > 100  # the random adapter says a lot: a real comparison

    prepare_decoding(model, cfg.generation, "hf")
    base = model.get_base_model() if adapter_kind == "peft" else model
    assert base.generation_config.cache_implementation is None  # off by default
    with open_dict(cfg):
        cfg.generation.static_cache = True
    prepare_decoding(model, cfg.generation, "hf")
    assert base.generation_config.cache_implementation == "static"
    made = []
    init = StaticCache.__init__
    monkeypatch.setattr(StaticCache, "__init__", lambda self, *a, **k: made.append(1) or init(self, *a, **k))
    assert generate(model, tokenizer, prompts, cfg.generation, progress=False) == growing
    assert len(made) == 2  # one fixed-size cache per batch: the setting reached generate()
