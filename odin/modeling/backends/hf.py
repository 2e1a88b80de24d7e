"""The `hf` backend: transformers loads the base model (4-bit NF4 on CUDA when asked), PEFT adds LoRA; or, with
`lora.enabled=false`, the whole model trains (full fine-tuning)."""

from __future__ import annotations

from omegaconf import OmegaConf

from odin.modeling.backends import lora_kwargs
from odin.modeling.load import load_base_model, peft_quietly, quantized_bits


def load_for_training(cfg, tokenizer):
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    if not cfg.lora.enabled:
        return _full_model(cfg)
    model = load_base_model(cfg.model, cfg.paths.cache_dir)
    if quantized_bits(model):
        # Layer norms to fp32 and input grads on, so LoRA trains stably on top of the quantized weights.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=bool(cfg.training.gradient_checkpointing))
    # LoRA's A matrices are initialized randomly: seed first so a run is reproducible.
    set_seed(cfg.training.seed)
    with peft_quietly():
        if cfg.training.init_adapter:
            return PeftModel.from_pretrained(model, cfg.training.init_adapter, is_trainable=True)
        return get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora_kwargs(cfg.lora)))


def _full_model(cfg):
    """The base model with every weight trainable. With `model.dtype=auto` the weights load in float32 and the trainer
    computes in bf16 (mixed precision): a bf16 weight rounds away an update smaller than 1/256 of itself, which at a
    fine-tuning learning rate is most of them."""
    model_cfg = cfg.model
    if str(model_cfg.dtype) == "auto":
        model_cfg = OmegaConf.merge(model_cfg, {"dtype": "float32"})
    model = load_base_model(model_cfg, cfg.paths.cache_dir)
    model.requires_grad_(True)
    return model
