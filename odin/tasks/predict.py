"""task=predict: run a trained model on new text and write its entities and relations as JSONL.

    python -m odin task=predict predict.model_dir=outputs/.../final_model predict.text="Enalapril caused a cough."
    python -m odin task=predict predict.model_dir=... predict.input_file=notes.txt    # one text per line
    python -m odin task=predict predict.model_dir=... predict.input_file=notes.jsonl  # {"text": ...} per line
    cat notes.txt | python -m odin task=predict predict.model_dir=... predict.input_file=-

Each output line: the text, its entities with character offsets where the entity string is found in the text
(`odin.format.find_spans`: case-insensitive, any run of whitespace matching any other, as the metric compares), its
relations, and what could not be parsed.

Input of any size streams: texts are read one line at a time and generated `predict.chunk_size` at a time, and each
chunk's lines are written (and flushed) as it completes, so memory stays constant and what was predicted stays written
if a later line is bad or the run is stopped. A file's every line is checked before the model loads; stdin's as it
arrives.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import sys
from pathlib import Path
from typing import Iterable, Iterator

from omegaconf import DictConfig

from odin.errors import OdinError

log = logging.getLogger(__name__)


# --- input ---------------------------------------------------------------------------------------------------------


def iter_texts(lines: Iterable[str], source: str) -> Iterator[str]:
    """Texts from lines read one at a time: JSONL with a "text" field when the first non-blank line is a JSON
    object, else one text per non-blank line. Errors name `source` and the line."""
    jsonl = None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if jsonl is None:
            jsonl = line.lstrip().startswith("{")
        yield _jsonl_text(line, source, n) if jsonl else line.strip()
    if jsonl is None:
        raise OdinError(f"{source} is empty: give one text per line, or JSONL lines like {{\"text\": \"...\"}}")


def _jsonl_text(line: str, source: str, n: int) -> str:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise OdinError(f"{source}, line {n}: not valid JSON ({err.msg}); the file is read as JSONL because its "
                        "first line is a JSON object") from err
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise OdinError(f"{source}, line {n}: expected an object with a string \"text\" field")
    if not obj["text"].strip():
        raise OdinError(f"{source}, line {n}: \"text\" is empty")
    return obj["text"]


def parse_inputs(content: str, source: str) -> list[str]:
    """`iter_texts` of a whole content, split into lines as a file is read."""
    return list(iter_texts(io.StringIO(content), source))


def iter_inputs(predict_cfg) -> Iterator[str]:
    """The texts predict.text or predict.input_file gives, one at a time (a file is not read whole)."""
    text, input_file = predict_cfg.text, predict_cfg.input_file
    if text is not None and input_file is not None:
        raise OdinError("Give either predict.text or predict.input_file, not both")
    if text is not None:
        if not str(text).strip():
            raise OdinError("predict.text is empty; give the text to extract from, e.g. "
                            "predict.text=\"Enalapril caused acute renal failure.\"")
        return iter([str(text)])
    if input_file is None:
        raise OdinError("Nothing to predict: give predict.text=\"...\" or predict.input_file=<file> "
                        "(one text per line or JSONL with a \"text\" field; \"-\" reads stdin)")
    if str(input_file) == "-":
        return iter_texts(sys.stdin, "stdin")
    path = Path(str(input_file)).expanduser()
    if not path.is_file():
        raise OdinError(f"predict.input_file={input_file}: file not found")
    return _file_texts(path)


def _file_texts(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        yield from iter_texts(f, str(path))


def read_inputs(predict_cfg) -> list[str]:
    return list(iter_inputs(predict_cfg))


def count_inputs(predict_cfg) -> int | None:
    """How many texts there are, every line checked on the way (a file is read line by line); None for stdin,
    which can be read only once."""
    texts = iter_inputs(predict_cfg)  # the settings' own errors (both given, neither, no such file) come first
    if predict_cfg.input_file is not None and str(predict_cfg.input_file) == "-":
        return None
    return sum(1 for _ in texts)


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """`items` in lists of `size` (the last one shorter), read as they are needed."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


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
    count_inputs(cfg.predict)  # the settings, and every line of a file, before any model loads (stdin: as it arrives)
    check_available(cfg.model, cfg.paths.cache_dir)


def resolve_model_dir(predict_cfg) -> Path:
    from odin.modeling.adapter import model_kind

    if not predict_cfg.model_dir:
        raise OdinError("predict.model_dir is required: the trained model to run, e.g. "
                        "predict.model_dir=outputs/<date>/<time>_pipeline_<pid>@<host>/final_model")
    path = Path(str(predict_cfg.model_dir)).expanduser()
    model_kind(path)  # fails with what is wrong about the directory
    return path


def predictor(cfg: DictConfig, model_dir: Path | None, *, backend: str | None = None):
    """A function from texts (and an optional progress bar to move) to their prediction records, with the model in
    `model_dir` (None: the base model) loaded once."""
    from odin.format import build_prompt, levers_from
    from odin.inference import generate
    from odin.modeling.adapter import load_for_inference

    model, tokenizer = load_for_inference(cfg, model_dir, backend=backend)
    # A long text must leave room for the answer within the model's context.
    context = getattr(model.config, "max_position_embeddings", None)
    max_input = context - int(cfg.generation.max_new_tokens) if context else None
    levers = levers_from(cfg.generation.postprocess)

    def records(texts: list[str], bar=None) -> list[dict]:
        generations = generate(model, tokenizer, [build_prompt(t) for t in texts], cfg.generation,
                               max_input_tokens=max_input, bar=bar)
        return [prediction_record(t, g, levers) for t, g in zip(texts, generations)]

    return records


def predict(cfg: DictConfig, texts: list[str], model_dir: Path | None, *, backend: str | None = None) -> list[dict]:
    """Prediction records for `texts` with the model in `model_dir` (None: the base model)."""
    return predictor(cfg, model_dir, backend=backend)(list(texts))


def predict_stream(cfg: DictConfig, texts: Iterable[str], model_dir: Path | None, out: Path, *,
                   backend: str | None = None, total: int | None = None, echo: bool = False) -> int:
    """Predict `texts` predict.chunk_size at a time, each chunk's records appended to the JSONL `out` (and printed,
    with `echo`) as soon as it is done; returns how many were written. One progress bar over all of them (`total`
    texts; None: unknown, stdin)."""
    from tqdm.auto import tqdm

    records = predictor(cfg, model_dir, backend=backend)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(out, "w", encoding="utf-8") as f, tqdm(total=total, desc="predict", unit="text") as bar:
        for chunk in chunks(texts, int(cfg.predict.chunk_size)):
            for rec in records(chunk, bar=bar):
                line = json.dumps(rec, ensure_ascii=False)
                f.write(line + "\n")
                if echo:  # from a command line or a pipe the answer belongs on stdout, one JSON line per text
                    print(line, flush=True)
            f.flush()  # a chunk done is a chunk kept, whatever happens to the next one
            written += len(chunk)
    return written


def write_jsonl(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def run(ctx) -> dict[str, float]:
    cfg = ctx.cfg
    out = Path(str(cfg.predict.output_file)).expanduser() if cfg.predict.output_file else \
        ctx.run_dir / "predictions.jsonl"
    echo = cfg.predict.text is not None or str(cfg.predict.input_file) == "-"
    written = predict_stream(cfg, iter_inputs(cfg.predict), resolve_model_dir(cfg.predict), out, backend=ctx.backend,
                             total=count_inputs(cfg.predict), echo=echo)
    log.info("%d predictions written to %s", written, out)
    return {}
