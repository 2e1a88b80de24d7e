"""The `unsloth` backend: Unsloth's FastLanguageModel loads the model and adds LoRA with its fused kernels and
its own gradient checkpointing (or, with `lora.enabled=false`, trains every weight: `full_finetuning=True`). CUDA
only; `resolve_backend` has already imported Unsloth before transformers.

Unsloth cannot read GGUF, so it loads `pretrained_dir()`: the converted safetensors directory for packaged models.
The tokenizer is odin's own (same special tokens as the hf backend and evaluation), not Unsloth's patched copy.
"""

from __future__ import annotations

import logging

from odin.modeling.backends import lora_kwargs
from odin.modeling.load import pretrained_dir, resolve_dtype

log = logging.getLogger(__name__)


def load_for_training(cfg, tokenizer):
    from unsloth import FastLanguageModel

    m, t = cfg.model, cfg.training
    checkpointing = "unsloth" if t.gradient_checkpointing else False
    if m.attn_implementation:
        log.info("model.attn_implementation=%s is left to Unsloth, which picks its own attention kernels",
                 m.attn_implementation)
    full = not cfg.lora.enabled
    model, _ = FastLanguageModel.from_pretrained(
        model_name=pretrained_dir(m, cfg.paths.cache_dir),
        max_seq_length=m.max_seq_length,
        dtype=resolve_dtype(m, "cuda"),
        load_in_4bit=bool(m.load_in_4bit),
        revision=m.revision,
        trust_remote_code=m.trust_remote_code,
        use_gradient_checkpointing=checkpointing,
        fix_tokenizer=False,
        **_device_map(),
        # lora.enabled=false: every weight trains (Unsloth then makes get_peft_model a no-op); its precision is
        # Unsloth's choice. Not measured by odin yet: the hf backend is the tested path for full fine-tuning.
        full_finetuning=full,
    )
    if full:
        log.info("Full fine-tuning with Unsloth (lora.enabled=false)")
        return model
    if t.init_adapter:
        from peft import PeftModel

        from odin.modeling.load import peft_quietly

        with peft_quietly():
            model = PeftModel.from_pretrained(model, t.init_adapter, is_trainable=True)
        # As FastLanguageModel.from_pretrained does for an adapter directory: Unsloth's LoRA kernels, checkpointing.
        model = FastLanguageModel.patch_peft_model(model, use_gradient_checkpointing=checkpointing)
    else:
        model = FastLanguageModel.get_peft_model(
            model,
            **lora_kwargs(cfg.lora),
            use_gradient_checkpointing=checkpointing,
            random_state=t.seed,
        )
    return model


def _device_map() -> dict:
    """Under torchrun, the whole model on this rank's GPU (Unsloth's default puts it on the first GPU)."""
    from odin.distributed import is_distributed

    if not is_distributed():
        return {}
    import torch

    return {"device_map": {"": torch.cuda.current_device()}}
