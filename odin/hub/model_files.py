"""Which files of a model folder go to the Hub, and the refusal to push base weights by accident.

An adapter repo holds the PEFT adapter, the tokenizer it was trained with and the card; trainer state (optimizer,
scheduler, RNG) and PEFT's template README stay local. Full weights are refused unless `publish.merged=true` asks for
them: a folder with model weights, or an adapter whose file carries whole base modules (`modules_to_save`, resized
embeddings), would re-publish the base model, which its licence may not allow and nobody asked for.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from odin.errors import OdinError

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                   "added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja", "chat_template.json")
MERGED_FILES = ("config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json")
MERGED_SHARD = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")
FULL_WEIGHTS = re.compile(r"(model|pytorch_model)(-\d{5}-of-\d{5})?\.(safetensors|bin)|.*\.gguf")

SKIP_REASONS = {
    "README.md": "PEFT's template card; the model card replaces it",
    "optimizer.pt": "trainer state", "scheduler.pt": "trainer state", "rng_state.pth": "trainer state",
    "trainer_state.json": "trainer state", "training_args.bin": "trainer state (a pickle)",
}
# Tensor names PEFT gives LoRA's own weights; anything else in an adapter file is a copy of a base module.
LORA_TENSOR = re.compile(r"\.(lora_[A-Za-z_]+|lora_magnitude_vector)(\.[\w.]+)?$")


def select_files(model_dir: Path, merged: bool) -> tuple[list[Path], dict[str, str]]:
    """(files to upload, {file left out: why}) for a model folder, after refusing what must not go up."""
    model_dir = Path(model_dir)
    if merged:
        if not (model_dir / "config.json").is_file() or not any(_is_merged_weights(p.name) for p in model_dir.iterdir()):
            raise OdinError(f"{model_dir} holds no merged model (config.json + model*.safetensors): train with "
                            "training.merge=true, or drop publish.merged to push the adapter")
        model_files = MERGED_FILES
    else:
        refuse_full_weights(model_dir)
        model_files = ADAPTER_FILES
    files, skipped = [], {}
    for path in sorted(p for p in model_dir.iterdir() if p.is_file()):
        name = path.name
        if name in model_files or name in TOKENIZER_FILES or (merged and _is_merged_weights(name)):
            files.append(path)
        else:
            skipped[path.name] = SKIP_REASONS.get(path.name, "not part of a model repo")
    if not any(p.name in TOKENIZER_FILES for p in files):
        raise OdinError(f"{model_dir} has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}): the model must ship "
                        "with the tokenizer it was trained with. Publish final_model/ (training saves it there)")
    return files, skipped


def _is_merged_weights(name: str) -> bool:
    return name == "model.safetensors" or MERGED_SHARD.fullmatch(name) is not None


def refuse_full_weights(model_dir: Path) -> None:
    """An OdinError when an adapter folder would push base weights, with the reason and the way out."""
    fix = ("Publish only the adapter (train without modules_to_save / resized embeddings), or push a merged model on "
           "purpose with training.merge=true and publish.merged=true")
    full = sorted(p.name for p in model_dir.iterdir() if FULL_WEIGHTS.fullmatch(p.name))
    if full:
        raise OdinError(f"{model_dir} holds full model weights ({', '.join(full)}), not just a LoRA adapter: "
                        f"publishing it would redistribute the base model. {fix}")
    missing = [name for name in ADAPTER_FILES if not (model_dir / name).is_file()]
    if missing:
        hint = " (an older adapter_model.bin: load and save it again with PEFT to get safetensors)" if (
            model_dir / "adapter_model.bin").is_file() else ""
        raise OdinError(f"{model_dir} is not a PEFT adapter folder: {', '.join(missing)} missing{hint}")
    base = base_weight_tensors(model_dir / "adapter_model.safetensors")
    if base:
        shown = ", ".join(base[:3]) + (f" and {len(base) - 3} more" if len(base) > 3 else "")
        raise OdinError(f"{model_dir / 'adapter_model.safetensors'} carries {len(base)} full base-model tensors "
                        f"besides the LoRA weights ({shown}): publishing it would redistribute base weights. {fix}")


def base_weight_tensors(adapter_file: Path) -> list[str]:
    """Names of the tensors in an adapter file that are not LoRA weights (read from the header, no tensors loaded)."""
    from safetensors import safe_open

    with safe_open(str(adapter_file), framework="numpy") as f:
        return sorted(k for k in f.keys() if not LORA_TENSOR.search(k))


def hub_adapter_config(adapter_dir: Path, base_model: str, revision: str | None) -> bytes:
    """adapter_config.json as it should read on the Hub: the base model named by its Hub id.

    Training records the base as loaded, which for a packaged GGUF or a random model is a path in the local cache
    (`~/.cache/odin/models/...`): useless to anyone else, and it shows the publisher's home directory.
    """
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base_model
    config["revision"] = revision
    return (json.dumps(config, indent=2, sort_keys=True) + "\n").encode("utf-8")
