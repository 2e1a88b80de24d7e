"""Scoring a model's generations against gold answers: per-example error analysis, the results file, the summary table.

Pure functions on records and strings; nothing here touches a model.

Each wrong item is put in one error category (texts compared case-insensitively, whitespace folded, as scored):
- entities: a predicted entity not in gold is `wrong_type` when its text is a gold entity's (one entry for the pair),
  else `hallucinated_entity` when its text is not in the input, else `extra_entity` (in the text, but not gold).
  A gold entity the prediction lacks is `missed_entity`, unless its text was predicted with another type.
- relations: a predicted relation not in gold is `reversed_relation` when gold has it the other way round
  (tail, relation, head), else `extra_relation`; a gold relation the prediction lacks (either way round) is
  `missed_relation`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Sequence

from odin.extraction import Extraction
from odin.format import FoldedText, ParseResult, parse, read_answer
from odin.metrics import DEFINITIONS, Scores, score

RESULTS_FILE = "evaluation_results.json"  # in the run directory of task=eval and task=pipeline

ERROR_CATEGORIES: tuple[str, ...] = (
    "hallucinated_entity",
    "missed_entity",
    "wrong_type",
    "extra_entity",
    "reversed_relation",
    "extra_relation",
    "missed_relation",
)


def classify_errors(gold: Extraction, pred: Extraction, text: str) -> dict[str, list[dict]]:
    """The errors of one prediction, by category (see the module docstring)."""
    errors: dict[str, list[dict]] = {c: [] for c in ERROR_CATEGORIES}
    source = FoldedText(text)  # the grounding check metrics.grounding_rate counts
    gold_keys = {e.key() for e in gold.entities}
    pred_keys = {e.key() for e in pred.entities}
    gold_type: dict[str, str] = {}  # entity text -> its first gold type
    for e in gold.entities:
        gold_type.setdefault(e.key()[0], e.type)
    pred_names = {e.key()[0] for e in pred.entities}

    for e in pred.entities:
        if e.key() in gold_keys:
            continue
        name = e.key()[0]
        if name in gold_type:
            errors["wrong_type"].append({"text": e.text, "gold_type": gold_type[name], "predicted_type": e.type})
        elif not source.contains(e.text):
            errors["hallucinated_entity"].append(e.to_dict())
        else:
            errors["extra_entity"].append(e.to_dict())
    for e in gold.entities:
        # A gold entity whose text was predicted with another type is already counted as wrong_type above.
        if e.key() not in pred_keys and e.key()[0] not in pred_names:
            errors["missed_entity"].append(e.to_dict())

    gold_rel = {r.key() for r in gold.relations}
    pred_rel = {r.key() for r in pred.relations}
    for r in pred.relations:
        h, rel, t = r.key()
        if (h, rel, t) in gold_rel:
            continue
        errors["reversed_relation" if (t, rel, h) in gold_rel else "extra_relation"].append(r.to_dict())
    for r in gold.relations:
        h, rel, t = r.key()
        if (h, rel, t) not in pred_rel and (t, rel, h) not in pred_rel:
            errors["missed_relation"].append(r.to_dict())
    return errors


def example_record(example_id: str, input_text: str, gold: Extraction, generation: str,
                   parsed: ParseResult | None = None) -> dict:
    """One example's line in the results: what went in, what came out, and what was wrong with it."""
    parsed = parsed if parsed is not None else parse(generation)
    return {
        "id": example_id,
        "input": input_text,
        "gold": gold.to_dict(),
        "generation": generation,
        "prediction": parsed.extraction.to_dict(),
        "parse_errors": list(parsed.errors),
        "errors": classify_errors(gold, parsed.extraction, input_text),
    }


def error_counts(examples: Sequence[dict]) -> dict[str, int]:
    counts = {c: sum(len(ex["errors"][c]) for ex in examples) for c in ERROR_CATEGORIES}
    counts["parse_errors"] = sum(len(ex["parse_errors"]) for ex in examples)
    counts["examples_with_parse_errors"] = sum(1 for ex in examples if ex["parse_errors"])
    return counts


def score_generations(records: Sequence[dict], generations: Sequence[str],
                      levers: dict[str, bool] | None = None) -> tuple[Scores, list[dict]]:
    """Scores and per-example records for prepared Alpaca records and one generation each (same order).

    `levers`: the post-processing switches of `odin.format.postprocess` (generation.postprocess), applied to each
    generation as prediction applies them."""
    if len(records) != len(generations):
        raise ValueError(f"one generation per record needed: {len(records)} records, {len(generations)} generations")
    golds, preds, inputs, examples = [], [], [], []
    for i, (rec, generation) in enumerate(zip(records, generations)):
        gold = parse(rec["output"]).extraction
        parsed = read_answer(generation, rec["input"], **(levers or {}))
        golds.append(gold)
        preds.append(parsed.extraction)
        inputs.append(rec["input"])
        examples.append(example_record(str(rec.get("id", i)), rec["input"], gold, generation, parsed))
    return score(golds, preds, inputs), examples


def examples_sha1(examples: Sequence[dict]) -> str:
    """The identity of an evaluation set: a hash of each scored example's id, input and gold answer, in order (the
    per-example records of evaluation_results.json). Results with the same hash were scored on the same examples, so
    their numbers can be compared and paired; it is computed the same way for any results file, old ones too."""
    digest = hashlib.sha1()
    for ex in examples:
        gold = json.dumps(ex["gold"], sort_keys=True, ensure_ascii=False)
        for part in (str(ex.get("id", "")), ex["input"], gold):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
    return digest.hexdigest()


def build_results(scores: Scores, examples: list[dict], *, model_dir: str | None, model_name: str, split: str,
                  generation_s: float) -> dict:
    """The content of evaluation_results.json."""
    n = len(examples)
    return {
        "model_dir": model_dir,
        "model": model_name,
        "split": split,
        "num_examples": n,
        "metrics": scores.headline(),
        "definitions": dict(DEFINITIONS),
        "scores": scores.to_dict(),
        "error_counts": error_counts(examples),
        "timing": {"generation_s": round(generation_s, 3),
                   "examples_per_s": round(n / generation_s, 3) if generation_s > 0 else None},
        "examples": examples,
    }


def _json_safe(value):
    # NaN (e.g. grounding with no inputs) is not JSON; null says the same thing to any reader.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_results(results: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(results), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# How the summary table names each average (odin/metrics.py defines them).
AVERAGE_LABELS = {"micro": "micro", "macro": "macro (over types)", "example_avg": "average over examples"}


def short_model_name(results: dict) -> str:
    """What was evaluated, short enough for a table title: the model directory's last two parts (a run's
    `<run>/final_model`, a checkpoint's `<run>/checkpoint-40`), or the base model's name."""
    model_dir = results.get("model_dir")
    if model_dir:
        return "/".join(Path(model_dir).parts[-2:])
    if "vote" in results:  # task=vote: several runs' answers, no model of its own
        return results["model"]
    return f"{results.get('model', 'the base model')} (base model)"


def summary_tables(results: dict) -> list:
    """Rich tables: P/R/F1 (micro, macro over types, average over examples) with TP/FP/FN for entities and relations,
    then the error counts."""
    from rich.table import Table

    s = results["scores"]
    title = f"{short_model_name(results)} on {results['split']} ({results['num_examples']} examples)"
    table = Table(title=title)
    for col in ("", "", "P", "R", "F1", "TP", "FP", "FN"):
        table.add_column(col, justify="right" if col else "left", no_wrap=True)
    for name in ("entities", "relations"):
        t = s[name]
        c = t["counts"]
        for avg, label in AVERAGE_LABELS.items():
            prf = t[avg]
            counts = (str(c["tp"]), str(c["fp"]), str(c["fn"])) if avg == "micro" else ("", "", "")
            table.add_row(name.capitalize() if avg == "micro" else "", label,
                          *(f"{prf[k]:.3f}" for k in ("precision", "recall", "f1")), *counts,
                          end_section=avg == "example_avg")
    grounding = s.get("grounding_rate")
    table.caption = f"grounding rate {grounding:.3f}" if isinstance(grounding, float) else None
    if results.get("timing", {}).get("examples_per_s"):
        t = results["timing"]
        table.caption = f"{table.caption or ''}   generation {t['generation_s']:.1f} s ({t['examples_per_s']:.1f} ex/s)"
    errors = Table(title="Errors")
    errors.add_column("category")
    errors.add_column("count", justify="right")
    for category, n in results["error_counts"].items():
        errors.add_row(category.replace("_", " "), str(n))
    return [table, errors]


def print_summary(results: dict, console=None) -> None:
    from rich.console import Console

    console = console or Console()
    for table in summary_tables(results):
        console.print(table)
