"""A LoRA adapter on model=tiny_random, saved as training saves one (adapter + tokenizer), for inference tests.

Its LoRA weights are random and large, so the adapted model's greedy output depends on the prompt (a fresh adapter,
whose B matrices are zero, would change nothing): order and batching mistakes show up as different strings.
"""

from __future__ import annotations

from pathlib import Path


def make_tiny_adapter(cfg, out_dir: Path, seed: int = 0, scale: float = 2.0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from odin.modeling.load import load_base_model, load_tokenizer, peft_quietly

    tokenizer = load_tokenizer(cfg.model, cfg.paths.cache_dir)
    model = load_base_model(cfg.model, cfg.paths.cache_dir, device="cpu")
    with peft_quietly():
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8,
                                                 target_modules=["q_proj", "v_proj", "down_proj"]))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return Path(out_dir)
