"""A trained model directory, loaded for inference (evaluation and prediction).

Three kinds of directory:
- a PEFT adapter (`adapter_config.json`, what training writes to `final_model/`): put on the base model that
  `cfg.model` names. The adapter records the base it was trained on; a different one gets a warning, and an adapter
  whose shapes do not fit it an error naming the `model=` to use.
- a full or merged model (`config.json`, e.g. `merged_model/`): loaded on its own.
- none (`model_dir=None`): the base model alone, for a zero-shot baseline.

The tokenizer comes from the directory when training saved one there (it is the one the model learned with), else
from `cfg.model`. On the hf backend the adapter is merged into unquantized weights for speed (one matmul per layer
instead of three); on Unsloth its fast inference mode is switched on.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from odin.errors import OdinError

log = logging.getLogger(__name__)

TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "tokenizer.model")


def model_kind(model_dir: Path) -> str:
    """'adapter' or 'full' for a model directory; an OdinError saying what is wrong otherwise."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise OdinError(f"Model directory not found: {model_dir}. Point eval.model_dir / predict.model_dir at a "
                        "trained model, e.g. outputs/<date>/<time>_pipeline_<pid>@<host>/final_model")
    if not model_dir.is_dir():
        raise OdinError(f"{model_dir} is a file, not a model directory; point it at the folder holding "
                        "adapter_config.json (or config.json for a merged model)")
    if (model_dir / "adapter_config.json").exists():
        return "adapter"
    if (model_dir / "config.json").exists():
        return "full"
    hint = ""
    if (model_dir / "final_model").is_dir():
        hint = f" It looks like a run directory: use {model_dir / 'final_model'}"
    raise OdinError(f"{model_dir} holds neither adapter_config.json (a LoRA adapter) nor config.json (a full model)."
                    + hint)


def recorded_base(adapter_dir: Path) -> str | None:
    try:
        config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise OdinError(f"{adapter_dir}/adapter_config.json could not be read: {err}") from err
    return config.get("base_model_name_or_path")


def same_base(recorded: str | None, model_cfg, base_path: str) -> bool:
    """Whether an adapter's recorded base is the model `cfg.model` loads.

    Paths are compared by their last part: the same converted model sits under a different cache dir on each machine.
    """
    if not recorded:
        return True
    names = {str(model_cfg.name), base_path}
    return recorded in names or Path(recorded).name in {Path(n).name for n in names}


def _load_tokenizer(cfg, model_dir: Path | None):
    from transformers import AutoTokenizer

    from odin.modeling.load import load_tokenizer

    if model_dir is not None and any((model_dir / f).exists() for f in TOKENIZER_FILES):
        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=cfg.model.trust_remote_code)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    else:
        tokenizer = load_tokenizer(cfg.model, cfg.paths.cache_dir)
    tokenizer.padding_side = "left"
    return tokenizer


def _attach_adapter(base, adapter_dir: Path, cfg):
    from peft import PeftModel

    from odin.modeling.load import peft_quietly

    try:
        with peft_quietly():
            return PeftModel.from_pretrained(base, str(adapter_dir))
    except RuntimeError as err:
        if "size mismatch" in str(err):
            raise OdinError(
                f"The adapter in {adapter_dir} does not fit model={cfg.model.name} (its weight shapes differ). "
                f"Run with the model it was trained on (recorded base: {recorded_base(adapter_dir)})") from err
        raise


def load_for_inference(cfg, model_dir: Path | None, device: str | None = None, *, backend: str | None = None):
    """(model, tokenizer) ready for `odin.inference.generate`: eval mode, left padding. `backend` is the run's
    (resolved once by the run context)."""
    from odin.modeling.backends import resolve_backend
    from odin.modeling.load import pretrained_dir, quantized_bits

    kind = None if model_dir is None else model_kind(model_dir)
    model_dir = None if model_dir is None else Path(model_dir)
    base_path = pretrained_dir(cfg.model, cfg.paths.cache_dir)
    if kind == "adapter":
        recorded = recorded_base(model_dir)
        if not same_base(recorded, cfg.model, base_path):
            log.warning("The adapter in %s was trained on %s, but model=%s loads %s. Pass the model it was trained "
                        "on (model=... or model.name=...) unless they are the same weights.", model_dir, recorded,
                        cfg.model.name, base_path)
    tokenizer = _load_tokenizer(cfg, model_dir)
    backend = backend or resolve_backend(cfg.model, not cfg.lora.enabled)
    if backend == "unsloth":
        model = _load_unsloth(cfg, model_dir, kind, base_path)
    else:
        model = _load_hf(cfg, model_dir, kind, device)
    model.eval()
    what = {"adapter": f"adapter {model_dir}", "full": f"model {model_dir}", None: "base model (no adapter)"}[kind]
    dtype = str(next(model.parameters()).dtype).replace("torch.", "")
    if bits := quantized_bits(model):
        dtype = f"{bits}-bit weights, {dtype} compute"
    log.info("Loaded %s on %s (%s backend, %s)", what, cfg.model.name, backend, dtype)
    return model, tokenizer


def _load_hf(cfg, model_dir: Path | None, kind: str | None, device: str | None):
    from transformers import AutoModelForCausalLM

    from odin.modeling.load import default_device, load_base_model, quantized_bits, resolve_dtype

    if kind == "full":
        device = device or default_device()
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=resolve_dtype(cfg.model, device),
                                                     trust_remote_code=cfg.model.trust_remote_code)
        return model.to(device)
    model = load_base_model(cfg.model, cfg.paths.cache_dir, device=device)
    if kind == "adapter":
        model = _attach_adapter(model, model_dir, cfg)
        if not quantized_bits(model):
            model = model.merge_and_unload()
    return model


def _load_unsloth(cfg, model_dir: Path | None, kind: str | None, base_path: str):
    from unsloth import FastLanguageModel

    from odin.modeling.load import resolve_dtype

    m = cfg.model
    model, _ = FastLanguageModel.from_pretrained(
        model_name=str(model_dir) if kind == "full" else base_path,
        # Room for the answer after the longest prompt: Unsloth sizes its RoPE cache from this.
        max_seq_length=int(m.max_seq_length) + int(cfg.generation.max_new_tokens),
        dtype=resolve_dtype(m, "cuda"),
        load_in_4bit=bool(m.load_in_4bit),
        revision=None if kind == "full" else m.revision,
        trust_remote_code=m.trust_remote_code,
        fix_tokenizer=False,
    )
    if kind == "adapter":
        model = _attach_adapter(model, model_dir, cfg)
        # What FastLanguageModel.from_pretrained does for an adapter dir: Unsloth's LoRA kernels on the PEFT model.
        model = FastLanguageModel.patch_peft_model(model, use_gradient_checkpointing=False)
    FastLanguageModel.for_inference(model)
    return model
