"""Batched greedy generation of answers for prompts built with `odin.format.build_prompt`.

Speed comes from three things: prompts sorted by length so a batch carries little padding, large batches with left
padding and the KV cache, and stopping each sequence as soon as its answer is complete (EOS, the end of the
Relations section, or a line repeated in a loop) so a batch ends when its slowest answer does rather than at
`max_new_tokens`. A step of a small model costs about the same for 32 sequences as for 512 on a GPU (kernel launches,
not arithmetic, set its time), so there the fewer batches the better: set generation.batch_size to cover the set.
Returned texts are in the caller's order, without the prompt, cut at the end of the answer.

With generation.grounded a logits processor (`odin.grounding`) rides along each batch and keeps every answer grounded
in its prompt's input text; it checks the model's own choice first, so it costs little per step.
"""

from __future__ import annotations

import logging
import time

from odin.errors import OdinError
from odin.format import answer_end, build_prompt, split_prompt, trim_answer

__all__ = ["answer_end", "trim_answer", "encode_prompts", "generation_config", "generate_batch", "generate",
           "sampling_settings"]

log = logging.getLogger(__name__)


def _format_end_criteria(tokenizer, batch_size: int, end_token_ids=(), on_done=None):
    """A StoppingCriteria that stops each sequence of a batch on its own when its answer is complete.

    It follows each sequence's text token by token (a cached decode per token id) and runs `answer_end` only when a
    token could complete a stop: one holding a newline, '#' or ':'. A sequence that emits one of `end_token_ids`
    (EOS) is complete too. `on_done()` is called once for each sequence as it completes (the progress bar).
    """
    import torch
    from transformers import StoppingCriteria

    from odin.grounding import token_text

    texts = token_text(tokenizer)
    ends = frozenset(int(t) for t in end_token_ids if t is not None)

    class FormatEnd(StoppingCriteria):
        def __init__(self):
            self.texts = [""] * batch_size
            self.done = [False] * batch_size

        def __call__(self, input_ids, scores, **kwargs):
            for i, token in enumerate(input_ids[:, -1].tolist()):
                if self.done[i]:
                    continue
                if token in ends:
                    self.done[i] = True
                else:
                    piece = texts.piece(token)
                    self.texts[i] += piece
                    if any(c in piece for c in "\n#:"):
                        self.done[i] = answer_end(self.texts[i]) is not None
                if self.done[i] and on_done is not None:
                    on_done()
            return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    return FormatEnd()


SAMPLING_KEYS = ("temperature", "top_p", "top_k")


def sampling_settings(generation_cfg) -> dict:
    """generation.temperature, top_p and top_k when generation.do_sample (a key a config predates: its default), or
    nothing for greedy decoding, which reads none of them. generate(), the model card and its command all read these."""
    if not generation_cfg.get("do_sample", False):
        return {}
    from odin.schema import GenerationConfig

    defaults = GenerationConfig()
    return {key: type(getattr(defaults, key))(generation_cfg.get(key, getattr(defaults, key))) for key in SAMPLING_KEYS}


def generation_config(model, tokenizer, generation_cfg, max_new_tokens: int):
    """transformers' GenerationConfig for odin's decoding: greedy unless generation.do_sample (then at
    generation.temperature, top_p and top_k), odin's stop tokens."""
    from transformers import GenerationConfig

    eos = {tokenizer.eos_token_id}
    model_eos = getattr(model.generation_config, "eos_token_id", None)
    eos.update(model_eos if isinstance(model_eos, list) else [model_eos])
    eos.discard(None)
    # Every value is set, the neutral ones included: generate() fills whatever is left unset from the checkpoint's
    # generation_config.json, and some ship a repetition_penalty or sampling. repetition_penalty=1.0 and
    # no_repeat_ngram_size=0 add no logits processor; V1-V9 configs set 1.2 and 3, which stop the model copying
    # entity text from the input.
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=bool(generation_cfg.do_sample),
        # only when sampling: transformers warns about a temperature given to greedy decoding
        **sampling_settings(generation_cfg),
        num_beams=1,
        use_cache=True,
        repetition_penalty=float(generation_cfg.repetition_penalty),
        no_repeat_ngram_size=int(generation_cfg.no_repeat_ngram_size),
        eos_token_id=sorted(eos),
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def _left_pad(batch_ids: list[list[int]], pad_id: int, device):
    import torch

    width = max(len(ids) for ids in batch_ids)
    input_ids = torch.full((len(batch_ids), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for row, ids in enumerate(batch_ids):
        if ids:
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids):] = 1
    return input_ids.to(device), attention.to(device)


def generate_batch(model, tokenizer, batch_ids: list[list[int]], config, *, sources: list[str] | None = None,
                   on_done=None, grounded_relations: str = "listed"):
    """The new token ids (batch, steps) for one batch of tokenized prompts: left-padded, KV cache, each sequence
    stopped when its answer is complete (the batch ends when all are).

    `sources`: each prompt's input text, to ground the answers in (`odin.grounding`); None decodes unconstrained.
    `grounded_relations`: where a grounded relation's head and tail may come from ("listed" or "input").
    `on_done()` is called as each sequence completes before max_new_tokens.
    """
    import torch
    from transformers import LogitsProcessorList

    eos = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    stop = _format_end_criteria(tokenizer, len(batch_ids), eos, on_done)
    processors = LogitsProcessorList()
    if sources is not None:
        from odin.grounding import grounded_processor

        top_k = (config.top_k or 50) if config.do_sample else None
        # Rows the stopping criteria has ended only receive padding from then on: no need to constrain them.
        processors.append(grounded_processor(tokenizer, sources, eos, top_k=top_k, finished=stop.done,
                                             relations=grounded_relations))
    input_ids, attention = _left_pad(batch_ids, config.pad_token_id, next(model.parameters()).device)
    with torch.inference_mode():
        out = model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config,
                             logits_processor=processors, stopping_criteria=[stop])
    return out[:, input_ids.shape[1]:]


def encode_prompts(tokenizer, prompts: list[str], max_input_tokens: int | None = None) -> list[list[int]]:
    """Token ids of each prompt as training tokenizes it (`odin.modeling.sft.encode` calls this): the whole prompt
    in one call, with whatever the tokenizer adds (its BOS).

    A prompt longer than `max_input_tokens` loses the end of its input text, so that the instruction and the
    "### Response:" cue the answer follows are kept; such prompts are counted in a warning.
    """
    encoded = [list(ids) for ids in tokenizer(list(prompts))["input_ids"]]
    if max_input_tokens is None:
        return encoded
    too_long = [i for i, ids in enumerate(encoded) if len(ids) > max_input_tokens]
    if too_long:
        log.warning("%d of %d prompts are longer than %d tokens: the end of their input text was cut off to keep "
                    "the instruction and the answer cue (first: #%d)", len(too_long), len(encoded),
                    max_input_tokens, too_long[0])
        for i in too_long:
            encoded[i] = _cut_input(tokenizer, prompts[i], len(encoded[i]), max_input_tokens)
    return encoded


def _cut_input(tokenizer, prompt: str, length: int, max_input_tokens: int) -> list[int]:
    """The prompt rebuilt with its input text cut at a token boundary so the whole fits in `max_input_tokens`."""
    instruction, text = split_prompt(prompt)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    keep = len(offsets) - (length - max_input_tokens)
    while keep > 0:
        ids = tokenizer(build_prompt(text[: offsets[keep - 1][1]].rstrip(), instruction))["input_ids"]
        if len(ids) <= max_input_tokens:
            return list(ids)
        keep -= len(ids) - max_input_tokens  # tokens merge differently at the cut: try again, shorter
    raise OdinError(f"The prompt without its input text is longer than the {max_input_tokens} tokens the model can "
                    "take in; shorten the instruction or lower generation.max_new_tokens")


def generate(model, tokenizer, prompts: list[str], generation_cfg, max_input_tokens: int | None = None,
             *, max_new_tokens: int | None = None, progress: bool = True, bar=None) -> list[str]:
    """One answer per prompt, in the order given: greedy, batched, without the prompt, cut at the answer's end.

    `prompts` must come from `odin.format.build_prompt` (the template the model was trained on). Prompts longer than
    `max_input_tokens` lose the end of their input text (`encode_prompts`). With generation.grounded, answers are
    grounded in each prompt's input text (`odin.grounding`), relation ends as generation.grounded_relations says.
    `bar`: a progress bar of the caller's to move (task=predict's, over all its chunks) instead of one of its own.
    """
    import torch
    from tqdm.auto import tqdm

    if not prompts:
        return []
    batch_size = max(1, int(generation_cfg.batch_size))
    new_tokens = int(max_new_tokens if max_new_tokens is not None else generation_cfg.max_new_tokens)
    config = generation_config(model, tokenizer, generation_cfg, new_tokens)
    encoded = encode_prompts(tokenizer, prompts, max_input_tokens)
    sources = [split_prompt(p)[1] for p in prompts] if generation_cfg.grounded else None
    relations = str(generation_cfg.grounded_relations)
    if sources is not None:
        from odin.grounding import drop_open_line

    # Longest first: the batch most likely to run out of memory fails at once, not after minutes of work.
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    outputs: list[str | None] = [None] * len(encoded)
    was_training = model.training
    model.eval()
    # The bar moves as each answer completes, not only per batch: a batch of long answers takes a while.
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=len(encoded), desc="generate", unit="ex", disable=not progress)
    try:
        for start in range(0, len(order), batch_size):
            began = time.perf_counter()
            idx = order[start:start + batch_size]
            batch = [encoded[i] for i in idx]
            width = max(len(ids) for ids in batch)
            finished = [0]

            def on_done():
                finished[0] += 1
                bar.update(1)

            try:
                new = generate_batch(model, tokenizer, batch, config, on_done=on_done,
                                     sources=[sources[i] for i in idx] if sources is not None else None,
                                     grounded_relations=relations)
            except torch.OutOfMemoryError as err:
                raise OdinError(
                    f"Out of GPU memory generating a batch of {len(idx)} prompts of up to {width} "
                    f"tokens (+{new_tokens} new). Lower generation.batch_size (now {batch_size}) or "
                    "generation.max_new_tokens") from err
            texts = tokenizer.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            for i, text in zip(idx, texts):
                outputs[i] = (trim_answer(text) if sources is None else
                              drop_open_line(trim_answer(text), sources[i], relations))
            bar.update(len(idx) - finished[0])  # those that ran to max_new_tokens
            log.debug("batch %d: %d prompts of %d tokens, %d new tokens in %.2f s", start // batch_size + 1,
                      len(idx), width, new.shape[1], time.perf_counter() - began)
    finally:
        if own_bar:
            bar.close()
        model.train(was_training)
    return outputs  # type: ignore[return-value]
