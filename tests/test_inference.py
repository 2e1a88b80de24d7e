"""Batched generation: where an answer ends, per-sequence stopping, order and padding, generation settings."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odin.extraction import ENTITY_TYPES, RELATION_TYPES, Entity, Extraction, Relation
from odin.format import INSTRUCTION, build_prompt, parse, render, split_prompt
from odin.inference import _format_end_criteria, answer_end, encode_prompts, generate, generation_config, trim_answer
from steered_model import steered
from tiny_adapter import make_tiny_adapter

ANSWER = render([Entity("enalapril", "Drug"), Entity("acute renal failure", "Symptom")],
                [Relation("enalapril", "causes", "acute renal failure")])

TEXTS = [
    "Patient developed a rash after taking amoxicillin for pneumonia.",
    "Enalapril caused acute renal failure.",
    "Metformin was given for type 2 diabetes; lactic acidosis followed.",
    "No adverse events were reported.",
    "Haloperidol induced tremor in a patient with schizophrenia who also took lithium for years.",
    "Cisplatin for ovarian cancer; nausea.",
    "Ibuprofen and gastric bleeding.",
    "Warfarin interacts with aspirin.",
    "Rheumatoid arthritis treated with prednisone",
]


# --- where an answer ends ------------------------------------------------------------------------------------------


def test_a_complete_answer_has_no_end_to_cut():
    assert answer_end(ANSWER) is None
    assert trim_answer(ANSWER + "\n") == ANSWER


@pytest.mark.parametrize("tail", ["\n\n### Input:\nmore text", "\n\nSome chatter", "\n### Instruction:", "\n\n\n"])
def test_answer_ends_after_the_relations_section(tail):
    assert answer_end(ANSWER + tail) == len(ANSWER)
    assert trim_answer(ANSWER + tail) == ANSWER


def test_the_blank_line_between_sections_does_not_end_the_answer():
    entities_only = ANSWER.split("### Relations:")[0]  # ends with "\n\n"
    assert answer_end(entities_only) is None
    assert answer_end(entities_only + "### Rel") is None  # a header still being generated
    assert answer_end(entities_only + "### Relations:\n") is None
    assert answer_end(entities_only + "### Relations:\n\n") is None  # needs a first line before a blank one


def test_an_unknown_header_ends_the_answer_anywhere():
    text = "### Entities:\n1. [Drug] aspirin\n### Input:\nfoo"
    assert trim_answer(text) == "### Entities:\n1. [Drug] aspirin"
    assert answer_end("### Entities:\n1. [Drug] aspirin\n### Inp") is None


def test_none_found_sections_end_too():
    empty = render([], [])
    assert answer_end(empty) is None
    assert trim_answer(empty + "\n\n### Input:") == empty


_words = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz-0123456789 "), min_size=1, max_size=20).map(
    lambda s: " ".join(s.split()) or "x")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_words, st.sampled_from(ENTITY_TYPES)), max_size=6),
       st.lists(st.tuples(_words, st.sampled_from(RELATION_TYPES), _words), max_size=6))
def test_trimming_keeps_every_rendered_answer_whole(ents, rels):
    x = Extraction.of([Entity(t, ty) for t, ty in ents], [Relation(*r) for r in rels])  # as sources build them
    answer = render(x.entities, x.relations)
    assert answer_end(answer) is None
    run_on = answer + "\n\n### Input:\nAnother note.\n\n### Response:\n### Entities:"
    assert trim_answer(run_on) == answer
    assert parse(trim_answer(run_on)).extraction == parse(answer).extraction


# --- stopping each sequence on its own -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from conftest import compose_cfg
    from odin.modeling.adapter import load_for_inference

    cfg = compose_cfg(["model=tiny_random"], output_dir=tmp_path_factory.mktemp("run"))
    adapter = make_tiny_adapter(cfg, tmp_path_factory.mktemp("adapter") / "final_model")
    model, tokenizer = load_for_inference(cfg, adapter, device="cpu")
    return cfg, model, tokenizer


def test_stopping_criteria_stop_each_sequence_when_its_answer_is_complete(tiny):
    import torch

    _, _, tokenizer = tiny
    short = ANSWER + "\n\n### Input:\nx y z"
    long_ = ANSWER.replace("1. enalapril", "1. enalapril --[treats]--> cough\n2. enalapril") + "\n\nmore words here"
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in (short, long_)]
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    rows = torch.tensor([seq + [pad] * (width - len(seq)) for seq in ids])
    prompt = torch.zeros((2, 3), dtype=torch.long)
    reported = []
    criteria = _format_end_criteria(tokenizer, batch_size=2, on_done=lambda: reported.append(step))
    stopped_at = [None, None]
    for step in range(width):
        done = criteria(torch.cat([prompt, rows[:, : step + 1]], dim=1), None)
        assert done.shape == (2,) and done.dtype == torch.bool
        for i in range(2):
            if done[i] and stopped_at[i] is None:
                stopped_at[i] = step
    assert stopped_at[0] is not None and stopped_at[1] is not None
    assert reported == sorted(stopped_at)  # each sequence is reported once, at the step it completes
    assert stopped_at[0] < stopped_at[1]  # the shorter answer stops first; the other one carries on
    for i, text in enumerate((short, long_)):
        produced = tokenizer.decode(ids[i][: stopped_at[i] + 1])
        assert "Relations:" in produced and answer_end(produced) is not None
        assert answer_end(tokenizer.decode(ids[i][: stopped_at[i]])) is None  # not one token earlier


# --- generate --------------------------------------------------------------------------------------------------------


def _with_batch(cfg, batch_size, max_new_tokens=16):
    from omegaconf import OmegaConf

    return OmegaConf.merge(cfg.generation, {"batch_size": batch_size, "max_new_tokens": max_new_tokens})


@pytest.fixture
def seen_inputs(tiny):
    """The unpadded token ids of every prompt generate() hands to the model."""
    _, model, _ = tiny
    seen: list[list[int]] = []
    original = model.generate

    def recording(**kwargs):
        seen.extend(row[mask.bool()].tolist() for row, mask in zip(kwargs["input_ids"], kwargs["attention_mask"]))
        return original(**kwargs)

    model.generate = recording
    yield seen
    del model.generate


def bos_adding(tokenizer):
    """The same tokenizer, adding a BOS token in front of every text as Llama and Gemma tokenizers do."""
    import copy

    from tokenizers import processors

    tok = copy.deepcopy(tokenizer)
    bos = tok.bos_token
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.bos_token_id)])
    assert tok("x")["input_ids"][0] == tok.bos_token_id != tokenizer("x")["input_ids"][0]
    return tok


def test_generate_keeps_the_callers_order_and_batching_changes_nothing(tiny):
    cfg, model, tokenizer = tiny
    prompts = [build_prompt(t) for t in TEXTS]
    one_by_one = generate(model, tokenizer, prompts, _with_batch(cfg, 1), progress=False)
    batched = generate(model, tokenizer, prompts, _with_batch(cfg, 7), progress=False)
    assert len(batched) == len(prompts) and all(isinstance(t, str) for t in batched)
    assert len(set(one_by_one)) > len(prompts) // 2  # the adapted model answers each prompt differently
    assert batched == one_by_one  # left padding and the length sort leave greedy answers unchanged
    reordered = generate(model, tokenizer, prompts[::-1], _with_batch(cfg, 4), progress=False)
    assert reordered == one_by_one[::-1]


def test_generate_with_nothing_to_do():
    assert generate(None, None, [], None) == []


def test_overlong_prompts_are_cut_with_a_warning(tiny, caplog):
    cfg, model, tokenizer = tiny
    prompts = [build_prompt(TEXTS[0] * 20), build_prompt(TEXTS[1])]
    with caplog.at_level(logging.WARNING, logger="odin.inference"):
        out = generate(model, tokenizer, prompts, _with_batch(cfg, 2), max_input_tokens=64, progress=False)
    assert len(out) == 2
    assert "1 of 2 prompts are longer than 64 tokens" in caplog.text


@pytest.mark.parametrize("with_bos", [False, True])
def test_overlong_prompts_lose_the_end_of_their_input_not_the_instruction_or_the_answer_cue(tiny, seen_inputs,
                                                                                           with_bos):
    cfg, model, tokenizer = tiny
    tokenizer = bos_adding(tokenizer) if with_bos else tokenizer
    long_text = TEXTS[3] * 10
    prompts = [build_prompt(long_text), build_prompt(TEXTS[1])]
    full = encode_prompts(tokenizer, prompts)
    cut = encode_prompts(tokenizer, prompts, max_input_tokens=64)
    assert len(full[0]) > 64 >= len(cut[0]) and cut[1] == full[1]
    cue = len(tokenizer("\n\n### Response:\n", add_special_tokens=False)["input_ids"])
    assert cut[0][-cue:] == full[0][-cue:]  # the answer cue the model answers after
    assert cut[0][:8] == full[0][:8]  # the start of the prompt (and a BOS where the tokenizer adds one)
    instruction, text = split_prompt(tokenizer.decode(cut[0], skip_special_tokens=True))
    assert instruction == INSTRUCTION  # the instruction whole
    assert 0 < len(text) < len(long_text) and long_text.startswith(text)  # the cut is in the input text
    generate(model, tokenizer, prompts, _with_batch(cfg, 2, max_new_tokens=2), max_input_tokens=64, progress=False)
    assert sorted(seen_inputs) == sorted(cut)  # and that is what the model is given


def test_training_and_inference_tokenize_a_prompt_alike_bos_included(tiny, seen_inputs):
    from odin.modeling.sft import encode

    cfg, model, tokenizer = tiny
    tokenizer = bos_adding(tokenizer)
    records = [{"instruction": INSTRUCTION, "input": t, "output": ANSWER} for t in TEXTS[:4]]
    trained = [prompt for prompt, _ in encode(records, tokenizer)]
    assert all(ids[0] == tokenizer.bos_token_id for ids in trained)
    generate(model, tokenizer, [build_prompt(r["input"], r["instruction"]) for r in records],
             _with_batch(cfg, 4, max_new_tokens=2), progress=False)
    assert sorted(seen_inputs) == sorted(trained)


def test_generation_stops_where_the_answer_ends_not_at_max_new_tokens(tiny):
    cfg, model, tokenizer = tiny
    prompt = build_prompt(TEXTS[1])
    # A model that, having answered, runs on into a new prompt and never emits EOS.
    with steered(model, tokenizer, {prompt: ANSWER + "\n\n### Input:\n" + "more text " * 60}) as steering:
        out = generate(model, tokenizer, [prompt], _with_batch(cfg, 1, max_new_tokens=120), progress=False)
    assert out == [ANSWER]
    assert steering.calls <= len(tokenizer.encode(ANSWER + "\n\n", add_special_tokens=False)) + 1


def test_the_progress_bar_moves_as_each_answer_completes(tiny, monkeypatch):
    cfg, model, tokenizer = tiny
    updates = []

    class Bar:
        def __init__(self, *args, **kwargs):
            pass

        def update(self, n=1):
            updates.append(n)

        def close(self):
            pass

    monkeypatch.setattr("tqdm.auto.tqdm", Bar)
    prompts = [build_prompt(t) for t in TEXTS[:3]]
    answers = [render([Entity("x" * (i + 1), "Drug")], []) + "\n\n### Input:\n" for i in range(3)]
    with steered(model, tokenizer, dict(zip(prompts, answers))):
        generate(model, tokenizer, prompts, _with_batch(cfg, 3, max_new_tokens=60), progress=True)
    assert [n for n in updates if n] == [1, 1, 1]  # one step per answer, not one per batch


def test_repetition_settings_reach_generate_only_when_a_config_sets_them(tiny):
    from omegaconf import OmegaConf

    cfg, model, tokenizer = tiny
    plain = generation_config(model, tokenizer, cfg.generation, 32)
    assert plain.repetition_penalty == 1.0 and plain.no_repeat_ngram_size == 0
    assert plain.do_sample is False and plain.num_beams == 1 and plain.max_new_tokens == 32
    assert tokenizer.eos_token_id in plain.eos_token_id and plain.pad_token_id == tokenizer.pad_token_id
    v1 = OmegaConf.merge(cfg.generation, {"repetition_penalty": 1.2, "no_repeat_ngram_size": 3})
    old = generation_config(model, tokenizer, v1, 32)
    assert old.repetition_penalty == 1.2 and old.no_repeat_ngram_size == 3


def test_sampling_settings_reach_generate_only_when_sampling_and_a_seed_repeats_a_sample(tiny):
    import torch
    from omegaconf import OmegaConf

    cfg, model, tokenizer = tiny
    sampled = OmegaConf.merge(cfg.generation, {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 20})
    config = generation_config(model, tokenizer, sampled, 32)
    assert (config.do_sample, config.temperature, config.top_p, config.top_k) == (True, 0.7, 0.9, 20)
    greedy = generation_config(model, tokenizer, OmegaConf.merge(sampled, {"do_sample": False}), 32)
    assert greedy.temperature is None and greedy.top_p is None  # left unset: greedy is not warned about them
    prompts = [build_prompt(t) for t in TEXTS[:4]]
    hot = OmegaConf.merge(_with_batch(cfg, 4), {"do_sample": True, "temperature": 2.0, "top_k": 0})

    def sample(seed):
        torch.manual_seed(seed)
        return generate(model, tokenizer, prompts, hot, max_new_tokens=24, progress=False)

    assert sample(1) == sample(1) and sample(1) != sample(2)


def test_a_checkpoints_own_generation_defaults_do_not_leak_in(tiny):
    cfg, model, tokenizer = tiny
    prompts = [build_prompt(t) for t in TEXTS[:4]]
    expected = generate(model, tokenizer, prompts, _with_batch(cfg, 4), progress=False)
    saved = model.generation_config
    try:
        model.generation_config = saved.__class__(**{**saved.to_dict(), "repetition_penalty": 5.0,
                                                     "no_repeat_ngram_size": 2, "do_sample": True,
                                                     "temperature": 0.3})
        assert generate(model, tokenizer, prompts, _with_batch(cfg, 4), progress=False) == expected
    finally:
        model.generation_config = saved


def test_a_repeated_line_ends_a_looping_answer():
    loop = "### Entities:\n1. [Drug] metformin\n2. [Symptom] lactic acidosis\n3. [Symptom] Lactic  acidosis\n4. [Dru"
    assert trim_answer(loop) == "### Entities:\n1. [Drug] metformin\n2. [Symptom] lactic acidosis"
    assert parse(trim_answer(loop)).extraction == parse(loop).extraction  # the parser drops the repeat anyway
    relations = ANSWER + "\n2. enalapril --[causes]--> acute renal failure\n"
    assert trim_answer(relations) == ANSWER
    # same text, other type, is not a repeat; a line still being generated is not judged yet
    assert answer_end("### Entities:\n1. [Drug] x\n2. [Disease] x\n3. [Drug] x") is None
    assert answer_end(render([], []) + "\nNone found.\n") is None


def test_out_of_memory_says_which_setting_to_lower(tiny):
    import torch

    from odin.errors import OdinError

    cfg, model, tokenizer = tiny

    class OutOfMemory(torch.nn.Module):  # the real model's parameters and config, a generate() that runs out
        def __init__(self):
            super().__init__()
            self.inner = model
            self.generation_config = model.generation_config

        def generate(self, **kwargs):
            raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(OdinError, match=r"batch of 2 prompts.*Lower generation.batch_size \(now 2\)"):
        generate(OutOfMemory(), tokenizer, [build_prompt(t) for t in TEXTS[:2]], _with_batch(cfg, 2), progress=False)


def test_a_relation_line_that_chains_arrows_is_cut_after_its_first_relation():
    loop = ANSWER + "\n2. bleomycin --[causes]--> Raynaud's phenomenon --[associated with]--> Raynaud's phenomenon --[ass"
    assert trim_answer(loop) == ANSWER + "\n2. bleomycin --[causes]--> Raynaud's phenomenon"
    assert Relation("bleomycin", "causes", "Raynaud's phenomenon") in parse(trim_answer(loop)).relations
    assert answer_end(ANSWER + "\n2. bleomycin --[causes]--> Raynaud's phenomenon -") is None  # not an arrow yet
