"""Packaged-model loading: the tokenizer check that stops a broken GGUF conversion before it is cached."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from conftest import compose_cfg
from odin.errors import OdinError
from odin.modeling.load import _PROBE, check_tokenizer, load_tokenizer


def _fast(model) -> PreTrainedTokenizerFast:
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def test_a_tokenizer_that_fragments_common_words_is_refused_with_the_fix():
    letters = sorted(set(_PROBE.replace(" ", "")))
    # A BPE vocabulary without merges: every word comes out letter by letter, as from a broken conversion.
    broken = _fast(models.BPE(vocab={c: i for i, c in enumerate(letters)}, merges=[]))
    with pytest.raises(OdinError, match=r"gemma-3-270m-q4_k_m.gguf splits 15 common words into \d+ pieces.*"
                                        r"Upgrade transformers"):
        check_tokenizer(broken, "gemma-3-270m-q4_k_m.gguf")


def test_a_tokenizer_with_whole_words_passes():
    words = sorted(set(_PROBE.split()))
    check_tokenizer(_fast(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token=words[0])), "x.gguf")


@pytest.mark.slow
def test_the_packaged_smollm2_tokenizer_passes_and_ends_answers_with_im_end(tmp_path):
    cfg = compose_cfg(["model=smollm2_135m"])
    tok = load_tokenizer(cfg.model, cfg.paths.cache_dir)
    check_tokenizer(tok, cfg.model.gguf_file)
    assert tok.eos_token == "<|im_end|>"


@pytest.mark.slow
def test_a_first_gguf_conversion_is_quiet_and_gives_dense_bfloat16_weights(tmp_path, capfd):
    import json
    from pathlib import Path

    from safetensors import safe_open

    from odin.modeling.load import pretrained_dir

    cfg = compose_cfg(["model=smollm2_135m"])
    converted = Path(pretrained_dir(cfg.model, str(tmp_path)))  # an empty cache: converted now
    err = capfd.readouterr().err
    assert "asked for in" not in err and "Dequantizing the whole model" not in err  # transformers' notes on CPU
    assert not [line for line in err.splitlines() if "warn" in line.lower()]
    with safe_open(converted / "model.safetensors", "pt") as weights:
        assert {weights.get_slice(name).get_dtype() for name in weights.keys()} == {"BF16"}
    assert "quantization_config" not in json.loads((converted / "config.json").read_text())
