"""`training.merge=true`: fold a trained LoRA adapter into the base weights and save a standalone 16-bit model.

The merge goes into the unquantized base, loaded again without 4-bit: merging into NF4 weights would round the
adapter's update away. A checkpoint that is itself stored in 4-bit (e.g. unsloth/...-bnb-4bit) is dequantized first.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import OmegaConf

from odin.modeling.load import default_device, load_base_model, peft_quietly, quantized_bits

log = logging.getLogger(__name__)


def merged_dtype(model_cfg):
    import torch

    # A merged model is saved in 16 bits unless float32 was asked for; `auto` and bfloat16 give bfloat16.
    return {"float32": torch.float32, "float16": torch.float16}.get(str(model_cfg.dtype), torch.bfloat16)


def merge_adapter(cfg, adapter_dir: Path, out_dir: Path, tokenizer=None) -> Path:
    import torch
    from peft import PeftModel

    model_cfg = OmegaConf.merge(cfg.model, {"load_in_4bit": False})
    device = default_device()
    base = load_base_model(model_cfg, cfg.paths.cache_dir, device=device)
    if quantized_bits(base):
        log.info("The base checkpoint %s is stored quantized: dequantizing it before the merge", cfg.model.name)
        base = base.dequantize()
    # Merge in float32 on CPU (exact), in bf16 on GPUs where memory is what runs out first.
    if not device.startswith("cuda"):
        base = base.to(torch.float32)
    with peft_quietly():
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged = merged.to(merged_dtype(cfg.model))
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(out_dir)
    log.info("Merged model (%s) saved to %s", str(merged.dtype).replace("torch.", ""), out_dir)
    return out_dir
