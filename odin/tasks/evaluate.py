"""task=eval: generate answers for a prepared split, score them, write evaluation_results.json, print a summary.

Which model: `eval.base_model=true` evaluates the base model alone (the zero-shot baseline row); else
`eval.model_dir` (any saved adapter or merged model); else this run directory's `final_model/`.

Metric names say their split as the tracker logs them: `relation_f1` is scored on test, `val_relation_f1` on val.
A sweeper that optimizes (`optimized_metric`) must not see test scores, or the search fits the test set: with a
`val_` metric, task=pipeline also scores the val split (into `val/` of the run dir) and returns both.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from odin.errors import OdinError
from odin.evaluation import RESULTS_FILE

log = logging.getLogger(__name__)


def check(cfg: DictConfig) -> None:
    """The model to evaluate and the data to evaluate it on, checked before any work."""
    from odin.data.prepared import SPLITS
    from odin.modeling.load import check_available
    from odin.tasks.prepare import check as check_data

    e = cfg.eval
    if e.base_model and e.model_dir:
        raise OdinError(f"eval.base_model=true evaluates the base model without an adapter, but eval.model_dir="
                        f"{e.model_dir} is set too; drop one of them")
    if str(cfg.task) == "eval" and not (e.base_model or e.model_dir):
        raise OdinError("task=eval needs a model: eval.model_dir=<a run>/final_model (any saved adapter or merged "
                        "model), or eval.base_model=true for the base model with no adapter (a zero-shot baseline)")
    if e.model_dir:
        from odin.modeling.adapter import model_kind

        model_kind(Path(str(e.model_dir)).expanduser())
    if str(e.split) not in SPLITS:
        raise OdinError(f"eval.split={e.split}: must be one of {', '.join(SPLITS)}")
    check_optimized_metric(cfg)
    check_data(cfg)
    check_available(cfg.model, cfg.paths.cache_dir)


def run(ctx) -> dict[str, float]:
    from odin.data.prepare import ensure_prepared

    model_dir = resolve_model_dir(ctx.cfg, ctx.run_dir)
    data_dir = ensure_prepared(ctx.cfg, ctx.run_dir)
    ctx.tracker.log_dataset(data_dir)
    return evaluate(ctx.cfg, data_dir, model_dir, ctx.run_dir, backend=ctx.backend, tracker=ctx.tracker)


def metric_names(split: str, metrics: dict[str, float]) -> dict[str, float]:
    """Headline metrics named by their split: test's as they are, another split's prefixed (`val_relation_f1`)."""
    return dict(metrics) if split == "test" else {f"{split}_{k}": v for k, v in metrics.items()}


def optimized_split(cfg: DictConfig) -> str:
    """The split `optimized_metric` is scored on: `val` for `val_relation_f1`, else `test`."""
    return "val" if str(cfg.optimized_metric).startswith("val_") else "test"


def check_optimized_metric(cfg: DictConfig) -> None:
    from odin.app import in_multirun
    from odin.metrics import HEADLINE_METRICS

    name, split = str(cfg.optimized_metric), optimized_split(cfg)
    if name.removeprefix("val_") not in HEADLINE_METRICS:
        raise OdinError(f"optimized_metric={name}: not a metric evaluation returns; use one of "
                        f"{', '.join(HEADLINE_METRICS)}, scored on test, or the same with val_ (val_relation_f1), "
                        "scored on val: the one to optimize in a search")
    # Only a sweep reads the optimized metric back: a single evaluation of val (or test) needs no say about it.
    if str(cfg.task) == "eval" and split != str(cfg.eval.split) and in_multirun():
        raise OdinError(f"optimized_metric={name} is scored on the {split} split, and task=eval scores eval.split="
                        f"{cfg.eval.split}: a sweep would optimize a metric this job does not return; set "
                        f"eval.split={split}")


def split_config(cfg: DictConfig, split: str) -> DictConfig:
    """`cfg` scoring another split (eval.split), for evaluating val beside test in one run."""
    return OmegaConf.merge(cfg, {"eval": {"split": split}})


def resolve_model_dir(cfg: DictConfig, run_dir: Path) -> Path | None:
    """The model directory `task=eval` evaluates; None for the base model (eval.base_model=true)."""
    if cfg.eval.base_model:
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


def evaluate(cfg: DictConfig, data_dir: Path, model_dir: Path | None, run_dir: Path, *, backend: str | None = None,
             tracker=None) -> dict[str, float]:
    """Evaluate `model_dir` (None: the base model) on `cfg.eval.split` of `data_dir`; results go to `run_dir`.

    Returns the headline metrics named by their split (entity_f1, relation_f1 ... on test; val_relation_f1 ... on
    val), the values a sweeper reads.
    In a distributed job each rank generates a shard of the examples; all answers are gathered, and rank 0 writes.
    """
    from odin import distributed
    from odin.decode_speed import prepare_decoding
    from odin.evaluation import build_results, print_summary, score_generations, write_results
    from odin.format import build_prompt, levers_from
    from odin.inference import generate
    from odin.modeling.adapter import load_for_inference
    from odin.plots import write_plots
    from odin.tracking import Tracker

    run_dir = Path(run_dir)
    records = load_eval_records(cfg, Path(data_dir))
    model, tokenizer = load_for_inference(cfg, model_dir, backend=backend)
    prepare_decoding(model, cfg.generation, backend)
    prompts = [build_prompt(r["input"], r["instruction"]) for r in records]
    log.info("Evaluating on %d %s examples (batch size %d, at most %d new tokens)", len(records), cfg.eval.split,
             cfg.generation.batch_size, cfg.generation.max_new_tokens)

    mine = distributed.shard(prompts)
    if distributed.is_distributed():
        log.info("%d ranks generate a shard each (this one %d examples)", distributed.world_size(), len(mine))
    _sync(model)
    start = time.perf_counter()
    answers = generate(model, tokenizer, [prompts[i] for i in mine], cfg.generation,
                       progress=distributed.is_main_process())
    _sync(model)
    generations = distributed.gather_shards(len(prompts), mine, answers)  # waits for the slowest rank
    generation_s = time.perf_counter() - start

    scores, examples = score_generations(records, generations, levers_from(cfg.generation.postprocess))
    headline = metric_names(str(cfg.eval.split), scores.headline())
    if not distributed.is_main_process():
        return headline
    results = build_results(scores, examples, model_dir=str(model_dir) if model_dir is not None else None,
                            model_name=str(cfg.model.name), split=str(cfg.eval.split), generation_s=generation_s)
    results["provenance"] = provenance(cfg, examples, Path(data_dir))
    path = write_results(results, run_dir / RESULTS_FILE)
    plots = write_plots(results, run_dir / "plots")
    log.info("Generated %d answers in %.1f s (%.1f examples/s); results in %s", len(records), generation_s,
             len(records) / max(generation_s, 1e-9), path)
    print_summary(results)
    (tracker or Tracker()).log_evaluation(results, path, plots)
    return headline


def provenance(cfg: DictConfig, examples: list[dict], data_dir: Path) -> dict:
    """What produced a results file, so results can be compared and trusted without the .hydra/ folder beside them."""
    import json

    import odin
    from odin.evaluation import examples_sha1
    from odin.tracking import git_state

    stats_path = data_dir / "stats.json"
    settings = json.loads(stats_path.read_text(encoding="utf-8")).get("settings", {}) if stats_path.is_file() else {}
    commit, dirty = git_state(Path(__file__).resolve().parents[2])
    return {
        "version": str(cfg.version),
        "data": str(settings.get("name", cfg.data.name)),
        "data_sources": settings.get("sources") or [n for n, s in cfg.data.sources.items() if s is not None],
        "data_dir": str(data_dir.resolve()),
        "split": str(cfg.eval.split),
        "examples_sha1": examples_sha1(examples),
        # Decoding moves the scores as much as training does (grounding, post-processing, the token budget)
        "generation": OmegaConf.to_container(cfg.generation, resolve=True),
        "seed": int(cfg.seed),
        "git_commit": commit,
        "git_dirty": dirty,
        "odin_version": odin.__version__,
    }


def _sync(model) -> None:
    # CUDA runs asynchronously: without a sync the timer would stop before the GPU does.
    import torch

    if next(model.parameters()).device.type == "cuda":
        torch.cuda.synchronize()
