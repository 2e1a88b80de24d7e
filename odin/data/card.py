"""The dataset card: the one writer of the README.md that `task=prepare` puts beside the splits and `task=publish`
pushes to the Hub.

Built with huggingface_hub's `DatasetCard` / `DatasetCardData` from a prepared directory alone (its `stats.json`, one
example record, the fields its records carry), so a card can be rebuilt from the directory at any time. The metadata
names the licence of each source, the tasks, the language, the size, the source datasets, the Parquet file of each
split (so `load_dataset("<user>/<repo>")` finds them) and the records' features. The body has the record fields and
their types, what was actually read from each source (files checked against their official release, or not), how
the corpora were mapped onto odin's types, how the splits and the mix were made, the statistics, what was left out
and why, the answer format, and how to load the data. The facts about each source (name, licence, citation) come
from its module (odin/data/sources/<name>.py), as the model card's do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Optional, Sequence

from odin.data.prepared import RecordField, record_fields
from odin.data.sources import card_facts
from odin.data.stats import rows
from odin.extraction import Entity, Relation
from odin.format import INSTRUCTION, render

if TYPE_CHECKING:
    from huggingface_hub import DatasetCard, DatasetCardData

SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}  # odin's split -> the Hub's split name
TASK_CATEGORIES = ["text-generation", "token-classification"]
TAGS = ["biomedical", "medical", "named-entity-recognition", "relation-extraction", "odin"]

LONG_INPUTS = {
    "chunk": "cut into windows of whole sentences; a window keeps the entities whose text it contains and the "
             "relations whose head and tail it contains (relations split across windows are counted below)",
    "drop": "dropped (counted below)",
}


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def build_card(stats: Mapping, example: Optional[Mapping[str, str]] = None,
               fields: Optional[Sequence[RecordField]] = None) -> DatasetCard:
    """The dataset card of a prepared directory, from its `stats.json` (as a dict), one of its records and the
    fields its records carry (`odin.data.prepared.record_fields`)."""
    from huggingface_hub import DatasetCard

    return DatasetCard(f"---\n{card_data(stats, fields).to_yaml()}\n---\n\n{card_text(stats, example, fields)}")


def write_card(data_dir: Path, stats: Optional[Mapping] = None, example: Optional[Mapping[str, str]] = None) -> Path:
    """Write `<data_dir>/README.md`; `stats` and `example` default to the directory's stats.json and train split.
    The schema table is read from the split files themselves."""
    data_dir = Path(data_dir)
    if stats is None:
        stats = json.loads((data_dir / "stats.json").read_text(encoding="utf-8"))
    if example is None and (data_dir / "train.jsonl").is_file():
        example = card_example(_records(data_dir / "train.jsonl"))
    splits = [data_dir / f"{s}.jsonl" for s in SPLIT_NAMES if (data_dir / f"{s}.jsonl").is_file()]
    fields = record_fields(rec for path in splits for rec in _records(path)) if splits else None
    path = data_dir / "README.md"
    build_card(stats, example, fields).save(path)
    return path


def _records(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        yield from (json.loads(line) for line in f if line.strip())


def card_example(records: Iterable[Mapping[str, str]]) -> Optional[Mapping[str, str]]:
    """The record the card shows: the first with a relation, else the first with an entity, else None."""
    with_entity = None
    for record in records:
        if "--[" in record["output"]:
            return record
        if with_entity is None and "\n1. [" in record["output"]:
            with_entity = record
    return with_entity


# --------------------------------------------------------------------------------------------------- metadata


def card_data(stats: Mapping, fields: Optional[Sequence[RecordField]] = None) -> DatasetCardData:
    from huggingface_hub import DatasetCardData

    names = _source_names(stats)
    facts = {name: card_facts(name) for name in names}
    licences = {(f.license, f.license_name) for f in facts.values()}
    licence: dict = {}
    if len(licences) == 1 and next(iter(licences))[0] != "other":
        licence["license"] = next(iter(licences))[0]
    else:
        licence["license"] = "other"
        licence["license_name"] = (next(iter(licences))[1] or "other") if len(licences) == 1 else "mixed"
        licence["license_details"] = "; ".join(f"{f.pretty_name}: {f.terms}" for f in facts.values())
    total = sum(s["examples"] for s in stats["splits"].values())
    return DatasetCardData(
        pretty_name=f"odin {stats['settings'].get('name', 'data')}",
        **licence,
        language=["en"],
        task_categories=TASK_CATEGORIES,
        tags=TAGS,
        size_categories=[size_category(total)],
        source_datasets=sorted({f.source_dataset for f in facts.values() if f.source_dataset}) or None,
        configs=[{"config_name": "default",
                  "data_files": [{"split": SPLIT_NAMES[s], "path": f"{s}.parquet"} for s in stats["splits"]]}],
        # The Hub's own description of the columns, as `datasets` writes it when it pushes a dataset.
        dataset_info={"features": [{"name": f.name, "dtype": f.dtype} for f in fields]} if fields else None,
    )


def _source_names(stats: Mapping) -> list[str]:
    # `sources` holds what was read; older stats.json files only list the names in their settings.
    return list(stats.get("sources") or stats["settings"].get("sources", []))




# ------------------------------------------------------------------------------------------------------- body


def card_text(stats: Mapping, example: Optional[Mapping[str, str]] = None,
              fields: Optional[Sequence[RecordField]] = None) -> str:
    settings = stats["settings"]
    names = _source_names(stats)
    read = stats.get("sources") or {}
    lines = [f"# odin {settings.get('name', 'data')}: medical entity and relation extraction", "",
             "Instruction-tuning data for odin, which fine-tunes small language models to extract Drug, Disease and "
             "Symptom entities and the relations between them (causes, treats, associated_with, interacts_with) "
             "from clinical and biomedical text. Each record is an Alpaca triple: odin's instruction, the text as "
             "`input`, and the answer in odin's output format as `output`, with the example's metadata beside "
             "them.", ""]
    if fields:
        lines += ["## Fields", "", f"The fields of the {fields[0].records:,} records, the same in every split, and "
                  "the records where each is null:", "", "| field | type | null in | what it holds |",
                  "|---|---|---:|---|"]
        lines += [f"| `{f.name}` | {f.dtype} | {f.nulls:,} | {f.note} |" for f in fields]
        lines.append("")
    lines += ["## Sources", "", "| source | content | licence / terms |", "|---|---|---|"]
    lines += [f"| {card_facts(n).pretty_name} (`{n}`) | {card_facts(n).content} | {card_facts(n).terms} |"
              for n in names]
    lines += ["", "Check each source's terms before redistributing; the licence in the metadata above is the "
              "combination of these.", "", "What was read:", ""]
    lines += [f"- **{card_facts(n).pretty_name}**: {_what_was_read(n, read.get(n))}" for n in names]
    citations = [(n, card_facts(n).citation) for n in names if card_facts(n).citation]
    if citations:
        lines += ["", "Cite the corpora you use:", ""] + [f"- {card_facts(n).pretty_name}: {c}" for n, c in citations]
    lines += ["", "## Mapping onto odin's types", ""]
    lines += [f"- **{card_facts(n).pretty_name}**: {read[n]['mapping']}." for n in names
              if read.get(n, {}).get("mapping")]
    lines += ["", "## Splits and processing", ""] + _processing(settings, names, read)
    splits = stats["splits"]
    lines += ["", "## Statistics", "", "| | " + " | ".join(splits) + " |", "|---|" + "---:|" * len(splits)]
    lines += [f"| {label.strip()} | " + " | ".join(cells) + " |" for label, cells in rows(stats)]
    if stats["dropped"]:
        lines += ["", "Left out or changed, by stage and reason:", "", "| stage | reason | count |", "|---|---|---:|"]
        lines += [f"| {stage} | {reason} | {n:,} |" for stage, reasons in stats["dropped"].items()
                  for reason, n in reasons.items()]
    lines += ["", "## Format", "", f"Instruction (the same for every record): {INSTRUCTION}", "",
              "The `output` lists the entities, numbered, each with its type in brackets, then the relations as "
              "`head --[relation]--> tail`, written with the entities' text; an empty list reads `None found.`:", "",
              "```", render([Entity("enalapril", "Drug"), Entity("acute renal failure", "Symptom")],
                            [Relation("enalapril", "causes", "acute renal failure")]), "```", ""]
    if example:
        lines += ["A record of the training split: `input`", "", "```", example["input"], "```", "",
                  "and its `output`:", "", "```", example["output"], "```", ""]
    files = ", ".join(f'"{SPLIT_NAMES[s]}": "{s}.parquet"' for s in splits)
    lines += ["## Loading", "", "From the Hub (`<user>/<repo>` is where the card lives) or from the files beside it:",
              "", "```python", "from datasets import load_dataset", "", 'ds = load_dataset("<user>/<repo>")',
              f'ds = load_dataset("parquet", data_files={{{files}}})', "```", ""]
    return "\n".join(lines)


def _what_was_read(name: str, entry: Optional[Mapping]) -> str:
    if not entry:
        return "no record of what was read (prepared by an older odin)"
    text = f"{entry['examples']:,} examples"
    if entry.get("training_only_examples"):
        text += f" (and {entry['training_only_examples']:,} for the training split only)"
    if entry.get("synthetic_ratio"):
        return f"{text}, {entry['origin']}."
    files = entry.get("files") or []
    listed = ", ".join(f"{f['name']} ({f['documents']:,} {f['unit']})" if f.get("documents") is not None
                       else f["name"] for f in files)
    release = entry.get("release")
    if release and entry.get("matches_release"):
        return (f"{text} from the files of the official release {release}, each checked against it (size, sha256 "
                f"and document count): {listed}.")
    if release and files:
        differences = "; ".join(f"{f['name']} {f['differs']}" for f in files if f.get("differs"))
        return (f"{text} from files that **differ from the official release {release}**, read on purpose "
                f"(data.sources.{name}.allow_modified=true): {differences}. Files read: {listed}.")
    if files:
        return f"{text} from {entry.get('origin') or 'files'}: " + ", ".join(
            f"{f['name']} ({f['documents']:,} {f['unit']}, sha256 {f['sha256'][:16]})" for f in files) + "."
    return f"{text} from {entry.get('origin') or 'an unrecorded origin'}."


def _processing(settings: Mapping, names: list[str], read: Mapping) -> list[str]:
    ratios = settings.get("split_ratios") or {}
    official = settings.get("use_official_splits", True)
    cut = (f" and split {ratios['train']:g} / {ratios['val']:g} / {ratios['test']:g} (train / validation / test)"
           if ratios else "")
    lines = [
        "- Splits are grouped by document (`doc_id`): no abstract is in two splits, across sources too. "
        + ("Official corpus splits are kept where a corpus has them; when two corpora put the same abstract in "
           "different splits, the copy outside the more held-out split is removed. " if official else "")
        + f"Other documents are shuffled (seed {settings.get('seed')}){cut}.",
        f"- Inputs longer than {settings.get('max_tokens')} tokens (counted with the `{settings.get('tokenizer')}` "
        f"tokenizer) were {LONG_INPUTS.get(str(settings.get('long_inputs')), 'dropped')}.",
        ("- Exact duplicates (same input and output) were removed, and no" if settings.get("dedupe", True)
         else "- No") + " input text occurs in two splits.",
    ]
    if settings.get("label_order"):
        lines.append("- Entities and relations are listed " + (
            "in the order they first occur in the input." if settings["label_order"] == "text"
            else "in the order the corpus annotates them."))
    mix = []
    for n in names:
        entry = read.get(n) or {}
        if "weight" not in entry:
            continue
        if entry.get("synthetic_ratio"):
            mix.append(f"`{n}`: {entry['examples']:,} examples added (data.synthetic_ratio="
                       f"{entry['synthetic_ratio']:g})")
        else:
            cap = entry.get("cap")
            mix.append(f"`{n}` weight {entry['weight']:g}" + (f", cap {cap:,}" if cap is not None else ""))
    if mix:
        lines.append("- The mix (training split only; validation and test keep every example of every source): "
                     + "; ".join(mix) + ". A weight below 1 keeps a seeded share of a source's training examples, "
                     "above 1 repeats them; a cap bounds them.")
    return lines
