"""Training backends: how the base model is loaded and LoRA is put on it (`model.backend=auto|hf|unsloth`).

Both return a PEFT model that the shared trainer (odin/modeling/sft.py) trains and saves, so either one writes the
same adapter format. Unsloth is imported only when it is chosen, and only on CUDA.
"""

from __future__ import annotations

import importlib.util
import logging

from odin.errors import OdinError

log = logging.getLogger(__name__)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _import_unsloth() -> None:
    # Unsloth patches transformers, PEFT and TRL when imported, so it has to come before they are used.
    import unsloth  # noqa: F401


_noted: set[str] = set()


def _note_once(level: int, message: str) -> None:
    # Each task of a pipeline resolves the backend again (cheap, and each must work alone); say why only once.
    if message not in _noted:
        _noted.add(message)
        log.log(level, "%s", message)


def resolve_backend(model_cfg) -> str:
    """'hf' or 'unsloth' for `model.backend`; importing Unsloth here, as early as possible, when it is chosen."""
    wanted = str(model_cfg.backend)
    if wanted == "hf":
        return "hf"
    if wanted == "unsloth":
        if not _cuda():
            raise OdinError("model.backend=unsloth needs a CUDA GPU and none was found; train on this machine with "
                            "model.backend=hf (or auto)")
        try:
            _import_unsloth()
        except Exception as err:  # Unsloth raises more than ImportError when it cannot run here
            raise OdinError(f"model.backend=unsloth: Unsloth could not be imported ({type(err).__name__}: {err}). "
                            "Install it (pip install unsloth) or use model.backend=hf") from err
        return "unsloth"
    if wanted != "auto":
        raise OdinError(f"model.backend={wanted!r} is not one of auto, hf, unsloth")
    if not _cuda():
        return "hf"
    if importlib.util.find_spec("unsloth") is None:
        _note_once(logging.INFO, "model.backend=auto: Unsloth is not installed, training with transformers + PEFT (hf)")
        return "hf"
    try:
        _import_unsloth()
    except Exception as err:
        _note_once(logging.WARNING, f"model.backend=auto: Unsloth is installed but could not be imported "
                                    f"({type(err).__name__}: {err}); using hf")
        return "hf"
    return "unsloth"


def load_for_training(cfg, backend: str, tokenizer):
    """The base model with trainable LoRA adapters (new from cfg.lora, or training.init_adapter continued)."""
    if backend == "unsloth":
        from odin.modeling.backends.unsloth import load_for_training as load
    else:
        from odin.modeling.backends.hf import load_for_training as load
    return load(cfg, tokenizer)


def lora_kwargs(lora_cfg) -> dict:
    """cfg.lora as PEFT's LoraConfig arguments."""
    return {
        "r": int(lora_cfg.r),
        "lora_alpha": int(lora_cfg.alpha),
        "lora_dropout": float(lora_cfg.dropout),
        "bias": str(lora_cfg.bias),
        "target_modules": list(lora_cfg.target_modules),
        "use_rslora": bool(lora_cfg.use_rslora),
    }


def check_adapter_dir(path) -> None:
    from pathlib import Path

    if not (Path(path) / "adapter_config.json").exists():
        raise OdinError(f"training.init_adapter={path}: no adapter_config.json there; point it at a trained "
                        "adapter, e.g. <earlier run>/final_model")
