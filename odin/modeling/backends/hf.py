"""The `hf` backend: transformers loads the base model (4-bit NF4 on CUDA when asked), PEFT adds LoRA."""

from __future__ import annotations

from odin.modeling.backends import lora_kwargs
from odin.modeling.load import load_base_model, quantized_bits


def load_for_training(cfg, tokenizer):
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    model = load_base_model(cfg.model, cfg.paths.cache_dir)
    if quantized_bits(model):
        # Layer norms to fp32 and input grads on, so LoRA trains stably on top of the quantized weights.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=bool(cfg.training.gradient_checkpointing))
    # LoRA's A matrices are initialized randomly: seed first so a run is reproducible.
    set_seed(cfg.training.seed)
    if cfg.training.init_adapter:
        model = PeftModel.from_pretrained(model, cfg.training.init_adapter, is_trainable=True)
    else:
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora_kwargs(cfg.lora)))
    return model
