"""Prepared splits on disk: the contract between `task=prepare` and training, evaluation and the Hub.

A prepared data directory holds `{train,val,test}.jsonl` (and `.parquet` copies), one Alpaca record per line
(`instruction`, `input`, `output`, plus `id`, `doc_id`, `source`), `stats.json` and a dataset card `README.md`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from odin.data.example import Example
from odin.errors import OdinError
from odin.format import parse, to_record

SPLITS = ("train", "val", "test")
ALPACA_KEYS = ("instruction", "input", "output")
# What each field odin writes holds, for the dataset card's schema table.
FIELD_NOTES = {
    "instruction": "odin's instruction, the same for every record (see Format)",
    "input": "the text to extract from",
    "output": "the answer in odin's format (see Format): the target the model is trained on",
    "id": "the example's id, unique in the data: `<source>:<document>:<n>`",
    "doc_id": "the document the text comes from (the PubMed ID where there is one); no document is in two splits",
    "source": "the source that read it (a name under Sources)",
}
# JSON value -> the `datasets` feature type it is stored as in the Parquet splits (bool before int: bool is an int).
_DTYPES = ((bool, "bool"), (int, "int64"), (float, "float64"), (str, "string"))


@dataclass(frozen=True)
class RecordField:
    name: str
    dtype: str  # a `datasets` Value type: string, int64, float64, bool
    nulls: int  # records where it is null or missing
    records: int  # records read

    @property
    def note(self) -> str:
        return FIELD_NOTES.get(self.name, "")


def record_fields(records: Iterable[Mapping]) -> list[RecordField]:
    """The fields of prepared records in the order they first occur, each with the one type its values have (values
    of mixed types, or lists and objects, are stored as strings) and how many records lack it."""
    kinds: dict[str, set[str]] = {}
    present: Counter = Counter()
    total = 0
    for record in records:
        total += 1
        for key, value in record.items():
            kinds.setdefault(key, set())
            if value is not None:
                present[key] += 1
                kinds[key].add(next((name for kind, name in _DTYPES if isinstance(value, kind)), "string"))
    return [RecordField(key, next(iter(seen)) if len(seen) == 1 else "string", total - present[key], total)
            for key, seen in kinds.items()]


def example_to_record(example: Example) -> dict:
    return {**to_record(example.text, example.extraction), "id": example.id, "doc_id": example.doc_id,
            "source": example.source}


def write_split(records: list[dict], data_dir: Path, split: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f"{split}.jsonl", "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    columns = {k: [r.get(k) for r in records] for k in (records[0] if records else {k: None for k in ALPACA_KEYS})}
    pq.write_table(pa.table(columns), data_dir / f"{split}.parquet")


def read_records(path: Path) -> list[dict]:
    """Alpaca records from a JSON array or JSONL file, validated: each has instruction/input/output and an output
    that parses cleanly. Errors name the file and the record (line for JSONL, index for JSON)."""
    path = Path(path)
    if not path.exists():
        raise OdinError(f"Data file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            items = list(enumerate(json.loads(text), 1))
        except json.JSONDecodeError as err:
            raise OdinError(f"{path}: not valid JSON ({err})") from err
        where = "record"
    else:
        items = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((lineno, json.loads(line)))
            except json.JSONDecodeError as err:
                raise OdinError(f"{path}, line {lineno}: not valid JSON ({err.msg}); fix or remove the line") from err
        where = "line"
    records = []
    for n, rec in items:
        if not isinstance(rec, dict):
            raise OdinError(f"{path}, {where} {n}: expected an object with {', '.join(ALPACA_KEYS)}")
        missing = [k for k in ALPACA_KEYS if not isinstance(rec.get(k), str)]
        if missing:
            raise OdinError(f"{path}, {where} {n}: missing or non-string {', '.join(missing)}")
        parsed = parse(rec["output"])
        if parsed.errors:
            raise OdinError(f"{path}, {where} {n}: output does not follow odin's format: {parsed.errors[0]}")
        records.append(rec)
    return records


def read_split(data_dir: Path, split: str) -> list[dict]:
    path = Path(data_dir) / f"{split}.jsonl"
    if not path.exists():
        raise OdinError(f"No {split} split in {data_dir} (expected {path.name}); run task=prepare first or set "
                        "data.prepared_dir to a prepared data directory")
    return read_records(path)
