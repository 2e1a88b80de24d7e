"""Training backends: how the base model is loaded and LoRA is put on it (`model.backend=auto|hf|unsloth`).

Both return a PEFT model that the shared trainer (odin/modeling/sft.py) trains and saves, so either one writes the
same adapter format; with `lora.enabled=false` (full fine-tuning) both return the plain model, saved whole.
Unsloth is imported only when it is chosen, and only on CUDA.
"""

from __future__ import annotations

import functools
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

    _check_unsloth_transformers()


def transformers_outside(requirements: list[str] | None, installed: str) -> str | None:
    """The transformers range a package's requirements declare, when `installed` is outside it; else None."""
    from packaging.requirements import Requirement

    for line in requirements or ():
        req = Requirement(line)
        if req.name == "transformers" and req.marker is None:
            return None if req.specifier.contains(installed, prereleases=True) else str(req.specifier)
    return None


def _check_unsloth_transformers() -> None:
    # Unsloth patches transformers' internals version by version. Outside its declared range it still trains, but
    # its generation quietly slowed down here: 0.66 s per decoding step against 0.086 s inside the range
    # (Llama-3.1-8B shape, 4-bit, batch 64, H100; BENCHMARKS.md).
    from importlib import metadata

    try:
        installed = metadata.version("transformers")
        wanted = transformers_outside(metadata.requires("unsloth"), installed)
        unsloth_version = metadata.version("unsloth")
    except metadata.PackageNotFoundError:
        return
    if wanted:
        log.warning("Unsloth %s supports transformers %s, and this is transformers %s: outside that range its "
                    "generation can run many times slower. Install a transformers it supports (pip install "
                    "'transformers%s') or use model.backend=hf", unsloth_version, wanted, installed, wanted)


def resolve_backend(model_cfg, full_finetuning: bool = False) -> str:
    """'hf' or 'unsloth' for `model.backend`; importing Unsloth here, as early as possible, when it is chosen.
    `full_finetuning` (`lora.enabled=false`): auto trains through transformers, as Unsloth recompiled a fully
    fine-tuned model's step at every step (Gemma 3 270M on an H200: ~64 s a step against under 0.5 s; BENCHMARKS.md).

    Resolved once per process (the run context does it first, before anything imports transformers); later calls
    return the same answer without importing or logging again.
    """
    return _resolve(str(model_cfg.backend), bool(full_finetuning))


@functools.cache
def _resolve(wanted: str, full_finetuning: bool = False) -> str:
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
    if full_finetuning:
        log.info("model.backend=auto: full fine-tuning (lora.enabled=false) trains through transformers (hf); "
                 "model.backend=unsloth forces Unsloth")
        return "hf"
    if importlib.util.find_spec("unsloth") is None:
        log.info("model.backend=auto: Unsloth is not installed, training with transformers + PEFT (hf)")
        return "hf"
    try:
        _import_unsloth()
    except Exception as err:
        log.warning("model.backend=auto: Unsloth is installed but could not be imported (%s: %s); using hf",
                    type(err).__name__, err)
        return "hf"
    return "unsloth"


def load_for_training(cfg, backend: str, tokenizer):
    """The base model with trainable LoRA adapters (new from cfg.lora, or training.init_adapter continued); with
    `lora.enabled=false` the whole model, every weight trainable."""
    if backend == "unsloth":
        from odin.modeling.backends.unsloth import load_for_training as load
    else:
        from odin.modeling.backends.hf import load_for_training as load
    if cfg.training.init_adapter:
        # Checked before the (slow) model load.
        check_adapter_dir(cfg.training.init_adapter)
        log.info("Continuing training of the adapter in %s (its own LoRA settings apply, not cfg.lora)",
                 cfg.training.init_adapter)
    model = load(cfg, tokenizer)
    if not cfg.lora.enabled:
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log.info("Full fine-tuning (%s backend, lora.enabled=false): %s trainable parameters of %s", backend,
                 f"{trainable:,}", f"{total:,}")
        return model
    trainable, total = model.get_nb_trainable_parameters()
    log.info("LoRA (%s backend): %s trainable parameters of %s (%.2f%%)", backend, f"{trainable:,}", f"{total:,}",
             100 * trainable / max(total, 1))
    return model


def check_full_finetuning(cfg) -> None:
    """The settings that cannot go with `lora.enabled=false` (full fine-tuning), refused before any work."""
    if cfg.lora.enabled:
        return
    why = "lora.enabled=false trains every weight of the model (full fine-tuning)"
    if cfg.model.load_in_4bit:
        raise OdinError(f"{why}, and 4-bit weights (model.load_in_4bit=true) cannot be trained: set "
                        "model.load_in_4bit=false, or train LoRA adapters (lora=r32) on the 4-bit model")
    if cfg.training.init_adapter:
        raise OdinError(f"{why}, but training.init_adapter={cfg.training.init_adapter} continues a LoRA adapter: "
                        "drop one of them (to start a full fine-tune from a merged model, set model.name=<its dir>)")
    if cfg.training.merge:
        raise OdinError(f"{why}: final_model/ already holds the whole model, so there is no adapter to merge; drop "
                        "training.merge")


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
