"""Prepared splits as a Hub dataset: one `datasets.DatasetDict` (train / validation / test) written as Parquet, with
the dataset card `task=prepare` wrote, loaded with huggingface_hub's `DatasetCard`.

The records are read from the split JSONL files (the prepared data's contract, validated on the way) and written by
`datasets`, so the Parquet files carry its feature schema and load back with `load_dataset` unchanged. The card's
`configs` are set to the files written here, so `load_dataset("<user>/<repo>")` finds the three splits.
"""

from __future__ import annotations

import json
from pathlib import Path

from odin.data.prepared import SPLITS, read_split, record_fields
from odin.errors import OdinError

HUB_SPLIT = {"train": "train", "val": "validation", "test": "test"}  # odin's split name -> the Hub's
CARD = "README.md"


def check_data_dir(data_dir: Path) -> list[str]:
    """The splits a prepared data directory holds (train first); an OdinError naming what is missing."""
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise OdinError(f"publish.data_dir={data_dir} is not a directory: point it at a prepared data folder, e.g. "
                        "outputs/<date>/<time>_prepare/data")
    splits = [s for s in SPLITS if (data_dir / f"{s}.jsonl").is_file()]
    if "train" not in splits:
        raise OdinError(f"{data_dir} has no train.jsonl: publish.data_dir must be the data/ folder a `task=prepare` "
                        "(or pipeline) run wrote")
    if not (data_dir / CARD).is_file():
        raise OdinError(f"{data_dir / CARD} (the dataset card) not found: prepare the data again with this odin, "
                        "which writes the card beside the splits")
    return splits


def export_dataset(data_dir: Path, out_dir: Path) -> tuple[dict[str, Path], dict[str, int]]:
    """Write the Parquet splits and the card into `out_dir`: ({path in the repo: file}, {Hub split: records})."""
    import datasets
    from datasets import Dataset, DatasetDict, Features, Value
    from huggingface_hub import DatasetCard

    data_dir, out_dir = Path(data_dir).expanduser(), Path(out_dir)
    splits = check_data_dir(data_dir)
    records = {s: read_split(data_dir, s) for s in splits}
    # The types the dataset card's schema table states: one function reads them from the records for both.
    fields = record_fields(rec for recs in records.values() for rec in recs)
    features = Features({f.name: Value(f.dtype) for f in fields})
    dataset = DatasetDict({HUB_SPLIT[s]: Dataset.from_list([_row(rec, fields) for rec in recs], features=features)
                           for s, recs in records.items()})
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # one bar per small file is noise in the file list a user reviews
    try:
        for split in splits:
            name = f"{split}.parquet"
            dataset[HUB_SPLIT[split]].to_parquet(str(out_dir / name))
            files[name] = out_dir / name
    finally:
        if bars:
            datasets.enable_progress_bars()

    card = DatasetCard.load(data_dir / CARD)
    card.data["configs"] = [{"config_name": "default",
                             "data_files": [{"split": HUB_SPLIT[s], "path": f"{s}.parquet"} for s in splits]}]
    card.save(out_dir / CARD)
    files[CARD] = out_dir / CARD
    return files, {name: len(ds) for name, ds in dataset.items()}


def _row(record: dict, fields) -> dict:
    row = {}
    for f in fields:
        value = record.get(f.name)
        if f.dtype == "string" and value is not None and not isinstance(value, str):
            value = json.dumps(value)  # a field of mixed types is stored as strings, as record_fields says
        row[f.name] = value
    return row


def data_name(data_dir: Path) -> str:
    """The data config's name (data=mix -> mix), from the prepared stats; the folder's name when they lack it."""
    stats = Path(data_dir).expanduser() / "stats.json"
    if stats.is_file():
        name = json.loads(stats.read_text(encoding="utf-8")).get("settings", {}).get("name")
        if name:
            return str(name)
    return Path(data_dir).name
