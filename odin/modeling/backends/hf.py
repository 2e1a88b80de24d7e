"""The `hf` backend: transformers loads the base model (4-bit NF4 on CUDA when asked), PEFT adds LoRA."""

from __future__ import annotations

import logging

from odin.modeling.backends import check_adapter_dir, lora_kwargs
from odin.modeling.load import load_base_model

log = logging.getLogger(__name__)


def load_for_training(cfg, tokenizer):
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    model = load_base_model(cfg.model, cfg.paths.cache_dir)
    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        # Layer norms to fp32 and input grads on, so LoRA trains stably on top of the quantized weights.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=bool(cfg.training.gradient_checkpointing))
    # LoRA's A matrices are initialized randomly: seed first so a run is reproducible.
    set_seed(cfg.training.seed)
    if cfg.training.init_adapter:
        check_adapter_dir(cfg.training.init_adapter)
        log.info("Continuing training of the adapter in %s (its own LoRA settings apply, not cfg.lora)",
                 cfg.training.init_adapter)
        model = PeftModel.from_pretrained(model, cfg.training.init_adapter, is_trainable=True)
    else:
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora_kwargs(cfg.lora)))
    trainable, total = model.get_nb_trainable_parameters()
    log.info("LoRA (hf backend): %s trainable parameters of %s (%.2f%%)", f"{trainable:,}", f"{total:,}",
             100 * trainable / max(total, 1))
    return model
