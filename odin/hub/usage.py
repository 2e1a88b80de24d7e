"""How a published model's scores were produced, and the snippet that runs it as odin does, without odin.

Both read the generation settings of the run that wrote the scores (`TrainedRun.generation`: the composed config of
that run), so the card says what was actually done: greedy or sampled, how many new tokens, grounded decoding and
the post-processing switches. The snippet rebuilds what can be rebuilt in a few lines of transformers + PEFT: odin's
prompt, `task=predict`'s cut of a text too long for the model's context, the same decoding settings and stop tokens,
and the cut of the answer where odin's format ends (odin/format.py `answer_end`). What needs odin (grounded decoding,
post-processing, parsing into entities and relations) is named in the card, with the odin command that does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odin.format import INSTRUCTION, POSTPROCESS_LEVERS, PROMPT_TEMPLATE
from odin.inference import SAMPLING_KEYS, sampling_settings

if TYPE_CHECKING:
    from odin.hub.run import TrainedRun

# What each post-processing switch (generation.postprocess.<name>) does to a parsed answer.
POSTPROCESS_NOTES = {
    "snap_to_text": "each entity written as the input writes it (one found only with spaces ignored takes the "
                    "input's span)",
    "dedupe": "one type per entity text and one relation per pair of entities, the first kept",
    "drop_unlisted_relations": "relations whose head or tail is not a listed entity dropped",
}

# The snippet's cut of an answer: odin/format.py `answer_end`, written with nothing but `re` (a test holds them equal).
CUT_ANSWER = r'''HEADER = re.compile(r"^[ \t]*#{2,}[ \t]*(\w+)[ \t]*(?::|\n)", re.M)
RELATIONS = re.compile(r"^[ \t]*#{2,}[ \t]*relations\b[ \t]*:?", re.M | re.I)
SECTION_END = re.compile(r"\n[ \t]*\n|\n[ \t]*#")
SECOND_ARROW = re.compile(r"--\s*\[[^\]\n]*\]\s*-+>[^\n]*?(\s*--\s*\[)")
NUMBERING = re.compile(r"^\s*(?:\d+\s*[.)]\s*|[-*]\s+)?")


def cut_answer(text):
    """The answer without what follows odin's format: a header other than Entities and Relations, a blank line or
    header once the Relations section has begun, the first line that repeats an earlier one (a decoding loop), a
    second arrow on one relation line."""
    ends = [len(text)]
    relations = RELATIONS.search(text)
    if relations and text[relations.end():].strip():
        end = SECTION_END.search(text, len(text) - len(text[relations.end():].lstrip()))
        ends += [end.start()] if end else []
    ends += [h.start() for h in HEADER.finditer(text) if h.group(1).lower() not in ("entities", "relations")][:1]
    seen, pos = set(), 0
    for line in text.split("\n")[:-1]:
        content = " ".join(NUMBERING.sub("", line, count=1).lower().split())
        if content and not content.startswith("#") and content.rstrip(".") != "none found":
            if content in seen:
                ends.append(pos)
                break
            seen.add(content)
        pos += len(line) + 1
    arrow = SECOND_ARROW.search(text)
    ends += [arrow.start(1)] if arrow else []
    return text[:min(ends)].strip()
'''

# The snippet's prompt: odin's template, and task=predict's cut of a text too long for the model's context
# (odin/inference.py `encode_prompts`).
ENCODE = r'''def prompt_ids(text):
    return tokenizer(PROMPT_TEMPLATE.format(instruction=INSTRUCTION, input=text))["input_ids"]


def encode(text):
    """The prompt's token ids. A text too long for the model's context loses its end, keeping the instruction and
    the answer cue, as odin's task=predict does."""
    ids, limit = prompt_ids(text), model.config.max_position_embeddings - MAX_NEW_TOKENS
    if len(ids) > limit:
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        keep = len(offsets)
        while len(ids) > limit:
            keep -= len(ids) - limit
            ids = prompt_ids(text[:offsets[keep - 1][1]].rstrip())
    return ids
'''


def postprocess_on(gen) -> list[str]:
    return [name for name in POSTPROCESS_LEVERS if gen.postprocess.get(name)]


def decoding_lines(run: TrainedRun) -> list[str]:
    """How the scored answers were generated and read, as a Markdown list, from the scoring run's config."""
    gen = run.generation
    if run.eval_config is None:
        where = ("not recorded beside the results file; these are the training run's settings, which the "
                 "evaluation may not have used")
    elif run.results_path is None or run.results_path.parent.resolve() == run.run_dir.resolve():
        where = "from this run's composed config"
    else:
        where = f"from the composed config of the evaluation run `{run.results_path.parent.name}`"
    sampling = sampling_settings(gen)
    how = (f"sampling (generation.do_sample=true, {', '.join(f'{k} {v:g}' for k, v in sampling.items())})"
           if sampling else "greedy decoding")
    extra = ([f"repetition penalty {gen.repetition_penalty:g}"] if gen.repetition_penalty != 1.0 else []) + (
        [f"no repeated {gen.no_repeat_ngram_size}-grams"] if gen.no_repeat_ngram_size else [])
    lines = [f"How the answers were produced ({where}):", "",
             f"- {how.capitalize()}, at most {gen.max_new_tokens} new tokens"
             + (f", {', '.join(extra)}" if extra else "") + "; each answer cut where odin's format ends",
             "- Grounded decoding (generation.grounded=true): while an entity line is generated only tokens that keep "
             "its text a span of the input are allowed, and relation heads and tails only "
             + ("name listed entities" if _grounded_relations(gen) == "listed" else
                "name spans of the input, listed as entities or not (generation.grounded_relations=input)")
             if gen.grounded else "- No grounded decoding: entity text was not constrained to the input"]
    levers = postprocess_on(gen)
    lines.append("- Post-processing of each parsed answer: " + "; ".join(f"`{n}`: {POSTPROCESS_NOTES[n]}"
                                                                          for n in levers)
                 if levers else "- No post-processing: answers were scored as parsed")
    return lines


def _grounded_relations(gen) -> str:
    """generation.grounded_relations of the scoring run: a run composed before the switch existed grounded relation
    ends in listed entities (the only rule then), whatever today's default."""
    return str(gen.get("grounded_relations", "listed"))


def usage_snippet(run: TrainedRun, repo_id: str) -> str:
    gen, model_cfg = run.generation, run.config.model
    sampling = sampling_settings(gen)
    # model.dtype=auto as odin resolves it (odin/modeling/load.py resolve_dtype).
    dtype = (f"torch.{model_cfg.dtype}" if str(model_cfg.dtype) != "auto" else
             "(torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if torch.cuda.is_available() "
             "else torch.float32")
    lines = ["import re", "", "import torch"]
    if not run.merged:
        lines.append("from peft import PeftModel")
    lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig", ""]
    if run.merged:
        lines += [f"MODEL = {repo_id!r}"]
    else:
        lines += [f"BASE_MODEL = {str(model_cfg.name)!r}", f"ADAPTER = {repo_id!r}"]
    lines += ["# odin's prompt, exactly as in training and evaluation (odin/format.py)",
              f"INSTRUCTION = {INSTRUCTION!r}", f"PROMPT_TEMPLATE = {PROMPT_TEMPLATE!r}",
              f"MAX_NEW_TOKENS = {int(gen.max_new_tokens)}", "",
              "device = \"cuda\" if torch.cuda.is_available() else \"cpu\"",
              f"dtype = {dtype}  # as odin loaded it"]
    if run.merged:
        lines += ["tokenizer = AutoTokenizer.from_pretrained(MODEL)",
                  "model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=dtype).to(device).eval()"]
    else:
        lines += ["tokenizer = AutoTokenizer.from_pretrained(ADAPTER)  # the tokenizer it was trained with",
                  "model = AutoModelForCausalLM.from_pretrained(BASE_MODEL, dtype=dtype)",
                  "model = PeftModel.from_pretrained(model, ADAPTER).to(device).eval()"]
    lines += ["", "", ENCODE.rstrip("\n"), "", "", CUT_ANSWER.rstrip("\n"), "", "",
              "# The decoding the scores were produced with; every value set, so none comes from the checkpoint.",
              "model_eos = model.generation_config.eos_token_id",
              "eos = sorted({tokenizer.eos_token_id, *(model_eos if isinstance(model_eos, list) else [model_eos])} "
              "- {None})",
              "pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id",
              f"config = GenerationConfig(max_new_tokens=MAX_NEW_TOKENS, do_sample={bool(gen.do_sample)}, num_beams=1, "
              "use_cache=True,",
              *(["                          " + ", ".join(f"{k}={v}" for k, v in sampling.items()) + ","]
                if sampling else []),
              f"                          repetition_penalty={float(gen.repetition_penalty)}, "
              f"no_repeat_ngram_size={int(gen.no_repeat_ngram_size)}, eos_token_id=eos,",
              "                          pad_token_id=pad, bos_token_id=tokenizer.bos_token_id)",
              "",
              "text = \"Two days after starting amoxicillin for otitis media, the child developed a rash.\"",
              "input_ids = torch.tensor([encode(text)], device=model.device)",
              "with torch.no_grad():",
              "    output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), "
              "generation_config=config)",
              "answer = tokenizer.decode(output[0, input_ids.shape[1]:], skip_special_tokens=True, "
              "clean_up_tokenization_spaces=False)",
              "print(cut_answer(answer))"]
    return "\n".join(lines)


def predict_command(run: TrainedRun) -> str:
    """odin's task=predict with the run's model and the generation settings the scores were produced with (those that
    differ from odin's defaults)."""
    from odin.schema import GenerationConfig

    gen, defaults = run.generation, GenerationConfig()
    model = [o for o in run.overrides if o.lstrip("+~").split("=")[0].split(".")[0] in ("experiment", "model")]
    keys = ("max_new_tokens", "do_sample", "temperature", "top_p", "top_k", "repetition_penalty",
            "no_repeat_ngram_size", "grounded", "grounded_relations")
    sampling = sampling_settings(gen)  # none for greedy decoding, which reads none of them
    # a key added since the run: its default
    values = {key: sampling.get(key, getattr(defaults, key)) if key in SAMPLING_KEYS else
              gen.get(key, getattr(defaults, key)) for key in keys}
    # ... except where the run behaved otherwise: grounded before the switch existed, relation ends were listed ones
    values["grounded_relations"] = _grounded_relations(gen) if values["grounded"] else defaults.grounded_relations
    switches = [f"generation.{key}={_value(value)}" for key, value in values.items() if value != getattr(defaults, key)]
    switches += [f"generation.postprocess.{name}=true" for name in postprocess_on(gen)]
    return " ".join(["python -m odin task=predict", *model, "predict.model_dir=<this model>", 'predict.text="..."',
                     *switches])


def _value(value) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)


def usage_section(run: TrainedRun, repo_id: str) -> list[str]:
    gen = run.generation
    needs = "transformers" if run.merged else "transformers and peft"
    missing = []
    if gen.grounded:
        unlike = ("an entity or a relation end that is not in the text" if _grounded_relations(gen) == "input" else
                  "an entity that is not in the text or a relation to an entity it did not list")
        missing.append("grounded decoding, which the scores above used: it is a logits processor in odin "
                       f"(odin/grounding.py), so the snippet's answers can differ where the model would write {unlike}")
    levers = postprocess_on(gen)
    if levers:
        missing.append(f"the post-processing the scores used ({', '.join(f'`{n}`' for n in levers)})")
    missing.append("reading the answer into entities and relations (odin's parser)")
    if run.config.model.get("load_in_4bit"):
        missing.append("loading the base model in 4-bit as training did")
    return ["## Use it", "", f"With {needs} (no odin needed). The snippet runs the model as odin does: odin's prompt, "
            "a text too long for the model's context cut as `task=predict` cuts it, the decoding settings the scores "
            "were produced with and odin's stop tokens, and the answer cut where odin's format ends:", "",
            "```python", usage_snippet(run, repo_id), "```", "",
            "What the snippet does not do: " + "; ".join(missing) + ". odin does all of it:", "",
            "```bash", predict_command(run), "```"]
