"""task=predict: run a trained model on new text and write its entities and relations as JSONL.

    python -m odin task=predict predict.model_dir=outputs/.../final_model predict.text="Enalapril caused a cough."
    python -m odin task=predict predict.model_dir=... predict.input_file=notes.txt    # one text per line
    python -m odin task=predict predict.model_dir=... predict.input_file=notes.jsonl  # {"text": ...} per line
    cat notes.txt | python -m odin task=predict predict.model_dir=... predict.input_file=-

Each output line: the text, its entities with character offsets where the entity string is found in the text
(`odin.format.find_spans`: case-insensitive, any run of whitespace matching any other, as the metric compares), its
relations, and what could not be parsed.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from omegaconf import DictConfig

from odin.errors import OdinError

log = logging.getLogger(__name__)


# --- input ---------------------------------------------------------------------------------------------------------


def parse_inputs(content: str, source: str) -> list[str]:
    """Texts from a file's content: JSONL with a "text" field when the first line is a JSON object, else one text
    per non-blank line. Errors name `source` and the line."""
    lines = [(n, line) for n, line in enumerate(content.splitlines(), 1) if line.strip()]
    if not lines:
        raise OdinError(f"{source} is empty: give one text per line, or JSONL lines like {{\"text\": \"...\"}}")
    if not lines[0][1].lstrip().startswith("{"):
        return [line.strip() for _, line in lines]
    texts = []
    for n, line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise OdinError(f"{source}, line {n}: not valid JSON ({err.msg}); the file is read as JSONL because its "
                            "first line is a JSON object") from err
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise OdinError(f"{source}, line {n}: expected an object with a string \"text\" field")
        if not obj["text"].strip():
            raise OdinError(f"{source}, line {n}: \"text\" is empty")
        texts.append(obj["text"])
    return texts


def read_inputs(predict_cfg) -> list[str]:
    text, input_file = predict_cfg.text, predict_cfg.input_file
    if text is not None and input_file is not None:
        raise OdinError("Give either predict.text or predict.input_file, not both")
    if text is not None:
        if not str(text).strip():
            raise OdinError("predict.text is empty; give the text to extract from, e.g. "
                            "predict.text=\"Enalapril caused acute renal failure.\"")
        return [str(text)]
    if input_file is None:
        raise OdinError("Nothing to predict: give predict.text=\"...\" or predict.input_file=<file> "
                        "(one text per line or JSONL with a \"text\" field; \"-\" reads stdin)")
    if str(input_file) == "-":
        return parse_inputs(sys.stdin.read(), "stdin")
    path = Path(str(input_file)).expanduser()
    if not path.is_file():
        raise OdinError(f"predict.input_file={input_file}: file not found")
    return parse_inputs(path.read_text(encoding="utf-8"), str(path))


# --- output --------------------------------------------------------------------------------------------------------


def prediction_record(text: str, generation: str, levers: dict[str, bool] | None = None) -> dict:
    """One output line: the answer read as evaluation reads it (`odin.format.read_answer`, post-processing levers
    applied), each entity with the spans where the grounding check finds it in the text."""
    from odin.format import FoldedText, read_answer

    parsed = read_answer(generation, text, **(levers or {}))
    source = FoldedText(text)
    entities = []
    for e in parsed.entities:
        spans = source.spans(e.text)
        first = spans[0] if spans else (None, None)
        entities.append({**e.to_dict(), "start": first[0], "end": first[1], "spans": [list(s) for s in spans]})
    return {
        "text": text,
        "entities": entities,
        "relations": [r.to_dict() for r in parsed.relations],
        "parse_errors": list(parsed.errors),
        "generation": generation,
    }


# --- the task ------------------------------------------------------------------------------------------------------


def check(cfg: DictConfig) -> None:
    """The model and the input, checked before any model is loaded."""
    from odin.modeling.load import check_available

    resolve_model_dir(cfg.predict)
    p = cfg.predict
    if p.text is not None and p.input_file is not None:
        raise OdinError("Give either predict.text or predict.input_file, not both")
    if p.text is None and p.input_file is None:
        raise OdinError("Nothing to predict: give predict.text=\"...\" or predict.input_file=<file> "
                        "(one text per line or JSONL with a \"text\" field; \"-\" reads stdin)")
    if p.input_file is not None and str(p.input_file) != "-" and not Path(str(p.input_file)).expanduser().is_file():
        raise OdinError(f"predict.input_file={p.input_file}: file not found")
    check_available(cfg.model, cfg.paths.cache_dir)


def resolve_model_dir(predict_cfg) -> Path:
    from odin.modeling.adapter import model_kind

    if not predict_cfg.model_dir:
        raise OdinError("predict.model_dir is required: the trained model to run, e.g. "
                        "predict.model_dir=outputs/<date>/<time>_pipeline_<pid>@<host>/final_model")
    path = Path(str(predict_cfg.model_dir)).expanduser()
    model_kind(path)  # fails with what is wrong about the directory
    return path


def predict(cfg: DictConfig, texts: list[str], model_dir: Path | None, *, backend: str | None = None) -> list[dict]:
    """Prediction records for `texts` with the model in `model_dir` (None: the base model)."""
    from odin.format import build_prompt, levers_from
    from odin.inference import generate
    from odin.modeling.adapter import load_for_inference

    model, tokenizer = load_for_inference(cfg, model_dir, backend=backend)
    # A long text must leave room for the answer within the model's context.
    context = getattr(model.config, "max_position_embeddings", None)
    max_input = context - int(cfg.generation.max_new_tokens) if context else None
    generations = generate(model, tokenizer, [build_prompt(t) for t in texts], cfg.generation, max_input_tokens=max_input)
    levers = levers_from(cfg.generation.postprocess)
    return [prediction_record(t, g, levers) for t, g in zip(texts, generations)]


def write_jsonl(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def run(ctx) -> dict[str, float]:
    cfg = ctx.cfg
    texts = read_inputs(cfg.predict)
    records = predict(cfg, texts, resolve_model_dir(cfg.predict), backend=ctx.backend)
    out = Path(str(cfg.predict.output_file)).expanduser() if cfg.predict.output_file else \
        ctx.run_dir / "predictions.jsonl"
    write_jsonl(records, out)
    log.info("%d predictions written to %s", len(records), out)
    # From a command line or a pipe the answer belongs on stdout, one JSON line per text.
    if cfg.predict.text is not None or str(cfg.predict.input_file) == "-":
        for rec in records:
            print(json.dumps(rec, ensure_ascii=False), flush=True)
    return {}
