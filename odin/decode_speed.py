"""Generation speed settings applied to a loaded model, beside odin/inference.py (which they leave as it is).

`generation.static_cache=true` gives generation a KV cache of fixed size instead of one that grows each step. On
CUDA transformers then compiles the decoding step (torch.compile, mode "reduce-overhead": CUDA graphs), so a step
of a small model is a few graph launches instead of hundreds of kernel launches, at the price of a compilation on
the first batch of each shape. Greedy answers stay the same (tests/test_decode_speed.py compares them).

It works through the model's generation defaults: odin.inference builds a GenerationConfig that leaves
`cache_implementation` unset, and `generate()` fills unset fields from the model's own generation_config.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def prepare_decoding(model, generation_cfg, backend: str | None) -> None:
    """Apply cfg.generation's speed settings to a model loaded for inference (odin.modeling.adapter)."""
    if not generation_cfg.static_cache:
        return
    if backend == "unsloth":
        log.info("generation.static_cache is left to Unsloth, whose inference mode has its own fast decoding")
        return
    # A PEFT wrapper forwards generate() to its base model, whose defaults are the ones read.
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    base.generation_config.cache_implementation = "static"
    log.info("generation.static_cache: fixed-size KV cache%s", ", decoding step compiled (CUDA graphs)"
             if base.device.type == "cuda" else "")
