"""task=prepare: raw corpora and generators -> train/val/test Alpaca records, statistics and a dataset card.

    load each source -> split by document -> chunk (or drop) long inputs -> dedupe + leakage check -> mix
    -> write {train,val,test}.jsonl + .parquet -> stats.json + table -> README.md (dataset card)

Everything lands in `<run dir>/data/` (written beside it and renamed when complete, so a half-written directory is
never mistaken for prepared data). `ensure_prepared` is what the pipeline calls: it reuses prepared data when there
is some and prepares otherwise.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

from omegaconf import DictConfig

from odin.data.card import write_card
from odin.data.chunk import fit_to_length
from odin.data.example import Example
from odin.data.mix import mix
from odin.data.prepared import SPLITS, example_to_record, write_split
from odin.data.split import assign_splits, dedupe, remove_leakage
from odin.data.stats import compute_stats, print_stats, write_stats
from odin.errors import OdinError

log = logging.getLogger(__name__)

SOURCE_MODULES = {name: f"odin.data.sources.{name}" for name in ("ade", "bc5cdr", "biored", "synthetic", "files")}


def check(cfg: DictConfig) -> None:
    """The data a run will use: prepared splits that exist, or sources that can be read here (and the tokenizer
    that counts their tokens), checked before any work."""
    from odin.data.sources import corpus_location
    from odin.data.split import split_ratios
    from odin.modeling.load import check_available
    from odin.offline import require_hub

    data = cfg.data
    if data.prepared_dir:
        data_dir = Path(data.prepared_dir).expanduser()
        missing = [f"{s}.jsonl" for s in SPLITS if not (data_dir / f"{s}.jsonl").is_file()]
        if missing:
            raise OdinError(f"data.prepared_dir={data.prepared_dir} lacks {', '.join(missing)}: point it at the "
                            "data/ folder of an earlier `task=prepare` run, or unset it to prepare here")
        return
    split_ratios(data.split)
    configured = [name for name in SOURCE_MODULES if data.sources.get(name) is not None]
    if not configured and not data.synthetic_ratio > 0:
        raise OdinError(f"data={data.name} configures no source: set at least one of data.sources."
                        f"{{{','.join(SOURCE_MODULES)}}} (e.g. data=synthetic or data=mix)")
    raw = None if cfg.paths.raw_data_dir is None else str(cfg.paths.raw_data_dir)
    for name in configured:
        src = data.sources[name]
        if "path" in src and corpus_location(name, src.path, raw) is None and "hub_id" in src and name == "ade":
            require_hub(f"The ADE corpus ({src.hub_id})",
                        "Set paths.raw_data_dir=<folder holding ade/> (or ODIN_RAW_DATA), or "
                        "data.sources.ade.path=<folder with DRUG-AE.rel and ADE-NEG.txt>.")
    check_available(cfg.model, cfg.paths.cache_dir)


def run(ctx) -> dict[str, float]:
    data_dir = prepare(ctx.cfg, ctx.run_dir / "data")
    ctx.tracker.log_dataset(data_dir)
    stats = json.loads((data_dir / "stats.json").read_text())
    return {f"{split}_examples": float(s["examples"]) for split, s in stats["splits"].items()}


def ensure_prepared(cfg: DictConfig) -> Path:
    """The prepared data directory: data.prepared_dir, else <run dir>/data if it holds the splits, else prepared now."""
    if cfg.data.prepared_dir:
        data_dir = Path(cfg.data.prepared_dir).expanduser()
        missing = [f"{s}.jsonl" for s in SPLITS if not (data_dir / f"{s}.jsonl").is_file()]
        if missing:
            raise OdinError(f"data.prepared_dir={cfg.data.prepared_dir} lacks {', '.join(missing)}: point it at the "
                            "data/ folder of an earlier `task=prepare` run, or unset it to prepare here")
        return data_dir
    data_dir = Path(cfg.paths.output_dir) / "data"
    if all((data_dir / f"{s}.jsonl").is_file() for s in SPLITS):
        log.info("Using the prepared data in %s", data_dir)
        return data_dir
    return prepare(cfg, data_dir)


def prepare(cfg: DictConfig, data_dir: Path) -> Path:
    data = cfg.data
    dropped: dict[str, Counter] = {}

    examples, sources = load_sources(cfg, dropped)
    examples, dropped["split"] = assign_splits(examples, data.split, data.seed)
    count_tokens = token_counter(cfg)
    examples, dropped["length"] = fit_to_length(examples, data.max_tokens, str(data.long_inputs), count_tokens)
    if data.dedupe:
        examples, dropped["dedupe"] = dedupe(examples)
    examples, dropped["leakage"] = remove_leakage(examples)
    splits, dropped["mix"] = mix(examples, data, data.seed)
    if not splits["train"]:
        raise OdinError(f"data={data.name} produced no training examples (configured sources: "
                        f"{_describe_sources(cfg)}); check the sources' weights, caps and files")

    tmp = data_dir.with_name(f".{data_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    records = {split: [example_to_record(ex) for ex in exs] for split, exs in splits.items()}
    for split, recs in records.items():
        write_split(recs, tmp, split)
    settings = {"name": str(data.name), "sources": sources, "seed": data.seed, "max_tokens": data.max_tokens,
                "long_inputs": str(data.long_inputs), "tokenizer": str(cfg.model.name),
                "synthetic_ratio": data.synthetic_ratio, "dedupe": data.dedupe,
                "use_official_splits": data.split.use_official}
    stats = compute_stats(splits, count_tokens, dropped, settings)
    write_stats(stats, tmp / "stats.json")
    sample = next((r for r in records["train"] if "\n1." in r["output"]), None)
    write_card(tmp, stats, data, sorted({ex.source for exs in splits.values() for ex in exs}), sample)
    shutil.rmtree(data_dir, ignore_errors=True)
    tmp.rename(data_dir)

    print_stats(stats)
    log.info("Prepared data written to %s", data_dir)
    return data_dir


def load_sources(cfg: DictConfig, dropped: dict[str, Counter]) -> tuple[list[Example], list[str]]:
    """Every configured source's examples (a source set to null is unused), and the names of those loaded."""
    raw = cfg.paths.raw_data_dir
    examples: list[Example] = []
    names = []
    for name, module in SOURCE_MODULES.items():
        src_cfg = cfg.data.sources.get(name)
        if src_cfg is None or (name == "synthetic" and cfg.data.synthetic_ratio > 0):
            continue  # with synthetic_ratio > 0 the mix sizes and adds the synthetic notes itself
        result = importlib.import_module(module).load(src_cfg, None if raw is None else str(raw))
        log.info("Source %s: %d examples", name, len(result.examples))
        examples += result.examples
        dropped[name] = Counter(result.dropped)
        names.append(name)
    if not names and not cfg.data.synthetic_ratio > 0:
        raise OdinError(f"data={cfg.data.name} configures no source: set at least one of data.sources."
                        f"{{{','.join(SOURCE_MODULES)}}} (e.g. data=synthetic or data=mix)")
    return examples, names


def token_counter(cfg: DictConfig) -> Callable[[Sequence[str]], list[int]]:
    """Counts input tokens with the configured model's tokenizer, a whole list per call, remembering each text."""
    from odin.modeling.load import load_tokenizer

    tokenizer = load_tokenizer(cfg.model, cfg.paths.cache_dir)
    known: dict[str, int] = {}

    def count(texts: Sequence[str]) -> list[int]:
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        for start in range(0, len(todo), 4096):
            batch = todo[start:start + 4096]
            ids = tokenizer(batch, add_special_tokens=False)["input_ids"]
            known.update(zip(batch, map(len, ids)))
        return [known[t] for t in texts]

    return count


def _describe_sources(cfg: DictConfig) -> str:
    parts = []
    for name in SOURCE_MODULES:
        src = cfg.data.sources.get(name)
        if src is not None:
            parts.append(f"{name} (weight {src.weight}, cap {src.cap})")
    if cfg.data.synthetic_ratio > 0:
        parts.append(f"synthetic_ratio {cfg.data.synthetic_ratio}")
    return ", ".join(parts) or "none"
