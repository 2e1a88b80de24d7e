"""task=eval: generate answers for a prepared split, score them, write evaluation_results.json, print a summary.

Which model: `eval.base_model=true` evaluates the base model alone (the zero-shot baseline row); else
`eval.model_dir` (any saved adapter or merged model); else this run directory's `final_model/`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from odin.errors import OdinError

log = logging.getLogger(__name__)

RESULTS_FILE = "evaluation_results.json"


def resolve_model_dir(cfg: DictConfig, run_dir: Path) -> Path | None:
    """The model directory `task=eval` evaluates; None for the base model (eval.base_model=true)."""
    if cfg.eval.base_model:
        if cfg.eval.model_dir:
            raise OdinError(f"eval.base_model=true evaluates the base model without an adapter, but eval.model_dir="
                            f"{cfg.eval.model_dir} is set too; drop one of them")
        return None
    if cfg.eval.model_dir:
        return Path(cfg.eval.model_dir).expanduser()
    final = Path(run_dir) / "final_model"
    if final.is_dir():
        return final
    raise OdinError(f"No model to evaluate: {final} does not exist. Pass eval.model_dir=<a run>/final_model, or "
                    "eval.base_model=true for the base model with no adapter (a zero-shot baseline)")


def load_eval_records(cfg: DictConfig, data_dir: Path) -> list[dict]:
    from odin.data.prepared import read_split

    split = str(cfg.eval.split)
    if not (data_dir / f"{split}.jsonl").is_file():
        have = sorted(p.stem for p in data_dir.glob("*.jsonl")) if data_dir.is_dir() else []
        raise OdinError(f"eval.split={split}: no {split}.jsonl in {data_dir} "
                        + (f"(it has: {', '.join(have)}); set eval.split to one of those" if have else
                           "(no prepared splits there); run task=prepare first or set data.prepared_dir"))
    records = read_split(data_dir, split)
    if not records:
        raise OdinError(f"The {split} split in {data_dir} has no examples; prepare data with a {split} split "
                        "(data.split) or evaluate another one with eval.split=val|test")
    n = cfg.eval.num_samples
    if n is not None:
        if int(n) < 1:
            raise OdinError(f"eval.num_samples={n}: give a positive number of examples, or null for all")
        records = records[: int(n)]  # the first n: the same examples every time, comparable across runs
    return records


def evaluate(cfg: DictConfig, data_dir: Path, model_dir: Path | None, run_dir: Path) -> dict[str, float]:
    """Evaluate `model_dir` (None: the base model) on `cfg.eval.split` of `data_dir`; results go to `run_dir`.

    Returns the headline metrics (entity_f1, relation_f1, ...), the values a sweeper and a tracker read.
    """
    from odin.evaluation import build_results, print_summary, score_generations, write_results
    from odin.format import build_prompt, levers_from
    from odin.inference import generate
    from odin.modeling.adapter import load_for_inference

    run_dir = Path(run_dir)
    records = load_eval_records(cfg, Path(data_dir))
    model, tokenizer = load_for_inference(cfg, model_dir)
    prompts = [build_prompt(r["input"], r["instruction"]) for r in records]
    log.info("Evaluating on %d %s examples (batch size %d, at most %d new tokens)", len(records), cfg.eval.split,
             cfg.generation.batch_size, cfg.generation.max_new_tokens)

    _sync(model)
    start = time.perf_counter()
    generations = generate(model, tokenizer, prompts, cfg.generation)
    _sync(model)
    generation_s = time.perf_counter() - start

    scores, examples = score_generations(records, generations, levers_from(cfg.generation.postprocess))
    results = build_results(scores, examples, model_dir=str(model_dir) if model_dir is not None else None,
                            model_name=str(cfg.model.name), split=str(cfg.eval.split), generation_s=generation_s)
    path = write_results(results, run_dir / RESULTS_FILE)
    log.info("Generated %d answers in %.1f s (%.1f examples/s); results in %s", len(records), generation_s,
             len(records) / max(generation_s, 1e-9), path)
    print_summary(results)
    return scores.headline()


def _sync(model) -> None:
    # CUDA runs asynchronously: without a sync the timer would stop before the GPU does.
    import torch

    if next(model.parameters()).device.type == "cuda":
        torch.cuda.synchronize()


def run(cfg: DictConfig) -> dict[str, float]:
    from odin.modeling.backends import resolve_backend
    from odin.tasks.prepare import ensure_prepared

    resolve_backend(cfg.model)  # Unsloth, when chosen, must be imported before anything loads transformers
    run_dir = Path(cfg.paths.output_dir)
    model_dir = resolve_model_dir(cfg, run_dir)  # before preparing data: a wrong path fails at once
    if model_dir is not None:
        from odin.modeling.adapter import model_kind

        model_kind(model_dir)
    return evaluate(cfg, ensure_prepared(cfg), model_dir, run_dir)
