"""Prepared splits on disk: the contract between `task=prepare` and training, evaluation and the Hub.

A prepared data directory holds `{train,val,test}.jsonl` (and `.parquet` copies), one Alpaca record per line
(`instruction`, `input`, `output`, plus `id`, `doc_id`, `source`), `stats.json` and a dataset card `README.md`.
"""

from __future__ import annotations

import json
from pathlib import Path

from odin.data.example import Example
from odin.errors import OdinError
from odin.format import parse, to_record

SPLITS = ("train", "val", "test")
ALPACA_KEYS = ("instruction", "input", "output")


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
