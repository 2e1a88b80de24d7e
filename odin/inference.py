"""Batched greedy generation of answers for prompts built with `odin.format.build_prompt`.

Speed comes from three things: prompts sorted by length so a batch carries little padding, large batches with left
padding and the KV cache, and stopping each sequence as soon as its answer is complete (EOS, the end of the
Relations section, or a line repeated in a loop) so a batch ends when its slowest answer does rather than at
`max_new_tokens`. A step of a small model costs about the same for 32 sequences as for 512 on a GPU (kernel launches,
not arithmetic, set its time), so there the fewer batches the better: set generation.batch_size to cover the set.
Returned texts are in the caller's order, without the prompt, cut at the end of the answer.
"""

from __future__ import annotations

import logging
import re
import time

from odin.errors import OdinError

log = logging.getLogger(__name__)

# A complete header line ("### Input:" or "### Input" + newline); a half-generated "### Rel" does not match yet.
_HEADER_LINE = re.compile(r"^[ \t]*#{2,}[ \t]*(\w+)[ \t]*(?::|\n)", re.MULTILINE)
_RELATIONS_HEADER = re.compile(r"^[ \t]*#{2,}[ \t]*relations\b[ \t]*:?", re.MULTILINE | re.IGNORECASE)
# After the Relations section has started: a blank line or a new header ends it.
_SECTION_END = re.compile(r"\n[ \t]*\n|\n[ \t]*#")
_KNOWN_SECTIONS = ("entities", "relations")


def answer_end(text: str) -> int | None:
    """Where the answer format ends in generated text (an index to cut at), or None while it may go on.

    It ends at a blank line or a new header once the Relations section has content; at any header that is not
    Entities/Relations (the model running on into e.g. "### Input:"), which `odin.format.parse` would not read anyway;
    at the first complete line that repeats an earlier one (numbering aside): greedy decoding that repeats a line
    is in a loop that would run to max_new_tokens, and the parser drops duplicates, so nothing scored is lost; or
    at a second arrow on one relation line, a loop within the line.
    """
    ends = []
    rel = _RELATIONS_HEADER.search(text)
    if rel:
        # Skip the newline(s) right after the header: the section needs a first line before a blank one can end it.
        first = len(text) - len(text[rel.end():].lstrip())
        if first < len(text):
            end = _SECTION_END.search(text, first)
            if end:
                ends.append(end.start())
    for header in _HEADER_LINE.finditer(text):
        if header.group(1).lower() not in _KNOWN_SECTIONS:
            ends.append(header.start())
            break
    repeat = _first_repeated_line(text)
    if repeat is not None:
        ends.append(repeat)
    chained = _SECOND_ARROW.search(text)
    if chained:
        ends.append(chained.start(1))
    return min(ends) if ends else None


# A relation line holds one arrow. A second on the same line ("a --[causes]--> b --[associated with]--> b --[...")
# is a loop within the line that never reaches a newline; cutting before it keeps the first, well-formed relation.
_SECOND_ARROW = re.compile(r"--\s*\[[^\]\n]*\]\s*-+>[^\n]*?(\s*--\s*\[)")


_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.)]\s*|[-*]\s+)?")


def _first_repeated_line(text: str) -> int | None:
    """Start of the first complete line whose content (numbering, case and spacing aside) came before."""
    seen: set[str] = set()
    pos = 0
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # still being generated
        content = " ".join(_NUMBERING.sub("", line).split()).lower()
        if content and not content.startswith("#") and content.rstrip(".") != "none found":
            if content in seen:
                return pos
            seen.add(content)
        pos += len(line)
    return None


def trim_answer(text: str) -> str:
    end = answer_end(text)
    return (text if end is None else text[:end]).strip()


def _format_end_criteria(tokenizer, batch_size: int):
    """A StoppingCriteria that stops each sequence of a batch on its own when its answer is complete.

    It follows each sequence's text token by token (a cached decode per token id) and runs `answer_end` only when a
    token could complete a stop: one holding a newline, '#' or ':'.
    """
    import torch
    from transformers import StoppingCriteria

    pieces: dict[int, str] = {}

    class FormatEnd(StoppingCriteria):
        def __init__(self):
            self.texts = [""] * batch_size
            self.done = [False] * batch_size

        def __call__(self, input_ids, scores, **kwargs):
            for i, token in enumerate(input_ids[:, -1].tolist()):
                if self.done[i]:
                    continue
                piece = pieces.get(token)
                if piece is None:
                    piece = pieces[token] = tokenizer.decode([token], skip_special_tokens=True)
                self.texts[i] += piece
                if any(c in piece for c in "\n#:"):
                    self.done[i] = answer_end(self.texts[i]) is not None
            return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    return FormatEnd()


def generation_config(model, tokenizer, generation_cfg, max_new_tokens: int):
    """transformers' GenerationConfig for odin's decoding: greedy unless generation.do_sample, odin's stop tokens."""
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


def generate_batch(model, tokenizer, batch_ids: list[list[int]], config):
    """The new token ids (batch, steps) for one batch of tokenized prompts: left-padded, KV cache, each sequence
    stopped when its answer is complete (the batch ends when all are)."""
    import torch

    input_ids, attention = _left_pad(batch_ids, config.pad_token_id, next(model.parameters()).device)
    with torch.inference_mode():
        out = model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config,
                             stopping_criteria=[_format_end_criteria(tokenizer, len(batch_ids))])
    return out[:, input_ids.shape[1]:]


def generate(model, tokenizer, prompts: list[str], generation_cfg, max_input_tokens: int | None = None,
             *, max_new_tokens: int | None = None, progress: bool = True) -> list[str]:
    """One answer per prompt, in the order given: greedy, batched, without the prompt, cut at the answer's end.

    `prompts` must come from `odin.format.build_prompt` (the template the model was trained on). Prompts longer than
    `max_input_tokens` keep their last tokens (the Response marker must stay) and are counted in a warning.
    """
    import torch
    from tqdm.auto import tqdm

    if not prompts:
        return []
    batch_size = max(1, int(generation_cfg.batch_size))
    new_tokens = int(max_new_tokens if max_new_tokens is not None else generation_cfg.max_new_tokens)
    config = generation_config(model, tokenizer, generation_cfg, new_tokens)

    # Tokenized exactly as training tokenizes a prompt (odin.modeling.sft.encode): with the tokenizer's own BOS.
    encoded = tokenizer(list(prompts))["input_ids"]
    if max_input_tokens is not None:
        too_long = [i for i, ids in enumerate(encoded) if len(ids) > max_input_tokens]
        if too_long:
            log.warning("%d of %d prompts are longer than %d tokens and were cut from the start (first: #%d)",
                        len(too_long), len(encoded), max_input_tokens, too_long[0])
            for i in too_long:
                encoded[i] = encoded[i][-max_input_tokens:]

    # Longest first: the batch most likely to run out of memory fails at once, not after minutes of work.
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    outputs: list[str | None] = [None] * len(encoded)
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(encoded), desc="generate", unit="ex", disable=not progress)
    try:
        for start in range(0, len(order), batch_size):
            began = time.perf_counter()
            idx = order[start:start + batch_size]
            batch = [encoded[i] for i in idx]
            width = max(len(ids) for ids in batch)
            try:
                new = generate_batch(model, tokenizer, batch, config)
            except torch.OutOfMemoryError as err:
                raise OdinError(
                    f"Out of GPU memory generating a batch of {len(idx)} prompts of up to {width} "
                    f"tokens (+{new_tokens} new). Lower generation.batch_size (now {batch_size}) or "
                    "generation.max_new_tokens") from err
            texts = tokenizer.batch_decode(new, skip_special_tokens=True)
            for i, text in zip(idx, texts):
                outputs[i] = trim_answer(text)
            bar.update(len(idx))
            log.debug("batch %d: %d prompts of %d tokens, %d new tokens in %.2f s", start // batch_size + 1,
                      len(idx), width, new.shape[1], time.perf_counter() - began)
    finally:
        bar.close()
        model.train(was_training)
    return outputs  # type: ignore[return-value]
