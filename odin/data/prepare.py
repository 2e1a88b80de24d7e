"""Preparing data: raw corpora and generators -> train/val/test Alpaca records, statistics and a dataset card.

    load each source -> order each answer's labels (data.label_order) -> split by document -> chunk (or drop)
    long inputs -> dedupe + leakage check -> mix -> write {train,val,test}.jsonl + .parquet -> stats.json + table
    -> README.md (dataset card)

Everything lands in one data directory (written beside it and renamed when complete, so a half-written directory
is never mistaken for prepared data). `ensure_prepared` is what training and evaluation call: it reuses prepared
data when there is some and prepares otherwise. Sources come from the registry (odin/data/sources/).
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

from omegaconf import DictConfig

from odin.data.card import card_example, write_card
from odin.data.chunk import fit_to_length
from odin.data.example import Example
from odin.data.label_order import apply_label_order
from odin.data.mix import check_ratio_source, mix, ratio_source
from odin.data.prepared import SPLITS, example_to_record, write_split
from odin.data.sources import registry
from odin.data.split import add_training_only, assign_splits, dedupe, remove_leakage, split_ratios
from odin.data.stats import compute_stats, print_stats, write_stats
from odin.errors import OdinError

log = logging.getLogger(__name__)


def check(cfg: DictConfig) -> None:
    """The data settings, checked before any work starts: at least one source, each source's own checks (files that
    must exist, valid mappings), the split ratios and the synthetic ratio's source."""
    data = cfg.data
    if data.prepared_dir:
        data_dir = Path(data.prepared_dir).expanduser()
        missing = [f"{s}.jsonl" for s in SPLITS if not (data_dir / f"{s}.jsonl").is_file()]
        if missing:
            raise OdinError(f"data.prepared_dir={data.prepared_dir} lacks {', '.join(missing)}: point it at the "
                            "data/ folder of an earlier `task=prepare` run, or unset it to prepare here")
    else:
        configured = [name for name in registry() if data.sources.get(name) is not None]
        if not configured:
            raise OdinError(f"data={data.name} configures no source: set at least one of data.sources."
                            f"{{{','.join(registry())}}} (e.g. data=synthetic or data=mix)")
        raw = cfg.paths.raw_data_dir
        for name in configured:
            source = registry()[name]
            if source.check is not None:
                source.check(data.sources[name], None if raw is None else str(raw))
        split_ratios(data.split)
        check_ratio_source(data)


def ensure_prepared(cfg: DictConfig, run_dir: Path) -> Path:
    """The prepared data directory: data.prepared_dir, else <run_dir>/data if it holds the splits, else prepared now.

    In a distributed job rank 0 prepares, and the other ranks then find its data in the shared run directory.
    """
    from odin.distributed import main_first

    with main_first():
        return _ensure_prepared(cfg, run_dir)


def _ensure_prepared(cfg: DictConfig, run_dir: Path) -> Path:
    if cfg.data.prepared_dir:
        check(cfg)
        return Path(cfg.data.prepared_dir).expanduser()
    data_dir = Path(run_dir) / "data"
    if all((data_dir / f"{s}.jsonl").is_file() for s in SPLITS):
        log.info("Using the prepared data in %s", data_dir)
        return data_dir
    return prepare(cfg, data_dir)


def prepare(cfg: DictConfig, data_dir: Path) -> Path:
    """Prepare the configured data into `data_dir` (replaced when complete); returns it."""
    check(cfg)
    data = cfg.data
    dropped: dict[str, Counter] = {}

    examples, train_only, sources = load_sources(cfg, dropped)
    # Before anything compares answers (dedupe) or cuts them (chunking keeps the order). The notes the mix adds for
    # data.synthetic_ratio are generated in text order, which is also their annotated order.
    examples, train_only = (apply_label_order(exs, str(data.label_order)) for exs in (examples, train_only))
    examples, dropped["split"] = assign_splits(examples, data.split, data.seed)
    examples, dropped["training only"] = add_training_only(examples, train_only)
    count_tokens = token_counter(cfg)
    examples, dropped["length"] = fit_to_length(examples, data.max_tokens, str(data.long_inputs), count_tokens)
    if data.dedupe:
        examples, dropped["dedupe"] = dedupe(examples)
    examples, dropped["leakage"] = remove_leakage(examples)
    splits, dropped["mix"] = mix(examples, data, data.seed)
    if not splits["train"]:
        raise OdinError(f"data={data.name} produced no training examples (configured sources: "
                        f"{_describe_sources(cfg)}); check the sources' weights, caps and files")
    ratio_name = ratio_source(data)
    if ratio_name:
        added = sum(ex.source == ratio_name for ex in splits["train"])
        ratio = float(data.synthetic_ratio)
        sources[ratio_name] = _source_entry(cfg, ratio_name, added, "generated for the training split alone, as many "
                                            f"as data.synthetic_ratio={ratio:g} of the real training examples",
                                            synthetic_ratio=ratio)

    data_dir = Path(data_dir)
    tmp = data_dir.with_name(f".{data_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    records = {split: [example_to_record(ex) for ex in exs] for split, exs in splits.items()}
    for split, recs in records.items():
        write_split(recs, tmp, split)
    split_cfg = data.split
    settings = {"name": str(data.name), "sources": list(sources), "seed": data.seed, "max_tokens": data.max_tokens,
                "long_inputs": str(data.long_inputs), "tokenizer": str(cfg.model.name),
                "synthetic_ratio": data.synthetic_ratio, "dedupe": data.dedupe, "label_order": str(data.label_order),
                "use_official_splits": split_cfg.use_official,
                "split_ratios": {"train": split_cfg.train, "val": split_cfg.val, "test": split_cfg.test}}
    stats = compute_stats(splits, count_tokens, dropped, settings, sources)
    write_stats(stats, tmp / "stats.json")
    write_card(tmp, stats, card_example(records["train"]))
    shutil.rmtree(data_dir, ignore_errors=True)
    tmp.rename(data_dir)

    print_stats(stats)
    log.info("Prepared data written to %s", data_dir)
    return data_dir


def load_sources(cfg: DictConfig, dropped: dict[str, Counter]) -> tuple[list[Example], list[Example], dict[str, dict]]:
    """Every configured source's examples (a source set to null is unused), those for the training split alone, and
    per source loaded what was read: the number of examples, its weight and cap, how it maps onto odin's types and
    where it came from."""
    raw = cfg.paths.raw_data_dir
    examples: list[Example] = []
    train_only: list[Example] = []
    read: dict[str, dict] = {}
    for name, source in registry().items():
        src_cfg = cfg.data.sources.get(name)
        if src_cfg is None or name == ratio_source(cfg.data):
            continue  # the mix sizes and adds the synthetic_ratio source itself
        result = source.load(src_cfg, None if raw is None else str(raw))
        log.info("Source %s: %d examples%s", name, len(result.examples),
                 f" (+ {len(result.train_only)} for the training split only)" if result.train_only else "")
        examples += result.examples
        train_only += result.train_only
        dropped[name] = Counter(result.dropped)
        origin = result.origin.to_dict() if result.origin is not None else {}
        if result.train_only:
            origin["training_only_examples"] = len(result.train_only)
        read[name] = _source_entry(cfg, name, len(result.examples), **origin)
    return examples, train_only, read


def _source_entry(cfg: DictConfig, name: str, examples: int, origin: str = "", **facts) -> dict:
    src_cfg = cfg.data.sources[name]
    return {"examples": examples, "weight": float(src_cfg.weight), "cap": src_cfg.cap,
            "mapping": registry()[name].card.mapping_for(src_cfg), "origin": origin, **facts}


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
    for name in registry():
        src = cfg.data.sources.get(name)
        if src is not None:
            parts.append(f"{name} (weight {src.weight}, cap {src.cap})")
    if cfg.data.synthetic_ratio > 0:
        parts.append(f"synthetic_ratio {cfg.data.synthetic_ratio}")
    return ", ".join(parts) or "none"
