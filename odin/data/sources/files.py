"""Prepared Alpaca files (`data=files`): the datasets earlier versions stored, or a user's own annotations.

`train_file`, `val_file` and `test_file` (any may be missing, at least one is required) are JSON arrays or JSONL of
records with `instruction`, `input` and `output`, the output in odin's format. They are validated on load (a record
that lacks a field or whose output does not parse is an error naming the file and record) and become examples of
the file's split, so they plug into the same splitting, chunking and mixing as the corpora.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from odin.data.example import Example, SourceResult
from odin.data.prepared import SPLITS, read_records
from odin.data.release import FileRead, SourceOrigin, digest
from odin.data.sources import CardFacts, Source
from odin.errors import OdinError
from odin.format import INSTRUCTION, parse

log = logging.getLogger(__name__)


@dataclass
class FilesSourceConfig:
    weight: float = 1.0
    cap: Optional[int] = None
    train_file: Optional[str] = None  # Alpaca JSON or JSONL
    val_file: Optional[str] = None
    test_file: Optional[str] = None


def split_files(cfg: FilesSourceConfig, raw_data_dir: Optional[str] = None) -> dict[str, Path]:
    """The configured file of each split that has one; an error when none is set or one is missing."""
    names = {split: getattr(cfg, f"{split}_file") for split in SPLITS}
    if not any(names.values()):
        raise OdinError(
            "data=files needs at least one Alpaca JSON/JSONL file: set data.sources.files.train_file "
            "(and val_file / test_file), e.g. the split an earlier task=prepare wrote: "
            "data.sources.files.train_file=outputs/<run>/data/train.jsonl (README: Data sources, the record format)"
        )
    files = {}
    for split, name in names.items():
        if not name:
            continue
        path = Path(name).expanduser()
        if not path.is_file():
            raise OdinError(f"data.sources.files.{split}_file={name}: file not found (relative paths are read from "
                            f"the directory you run odin in: {Path.cwd()})")
        files[split] = path
    return files


def load(cfg: FilesSourceConfig, raw_data_dir: Optional[str] = None) -> SourceResult:
    examples: list[Example] = []
    ids: Counter = Counter()
    other_instruction = 0
    origin = SourceOrigin("files given by the user")
    for split, path in split_files(cfg).items():
        size, sha = digest(path)
        records = read_records(path)
        # Only the file name: the card and stats.json travel with the data, the user's folders need not.
        origin.files.append(FileRead(path.name, size, sha, len(records), "records"))
        for record in records:
            text = record["input"]
            doc_id = str(record.get("doc_id") or record.get("id") or f"files:{_stable_hash(text)}")
            ex_id = str(record.get("id") or f"files:{split}:{_stable_hash(text)}")
            ids[ex_id] += 1
            if ids[ex_id] > 1:  # the same record id twice (e.g. one text annotated twice): keep ids unique
                ex_id = f"{ex_id}#{ids[ex_id]}"
            other_instruction += record["instruction"] != INSTRUCTION
            extraction = parse(record["output"]).extraction
            examples.append(Example(id=ex_id, doc_id=doc_id, text=text, extraction=extraction, source="files",
                                    split=split))
        log.info("data=files: %s -> %s", path, split)
    if other_instruction:
        # One prompt template for training, evaluation and prediction: records are re-written with odin's.
        log.warning("%d records carry an instruction other than odin's; odin's instruction is used for them",
                    other_instruction)
    return SourceResult(examples, origin=origin)


def _stable_hash(text: str) -> str:
    # Not hash(): that changes with PYTHONHASHSEED, and doc ids must be the same in every run.
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


SOURCE = Source(
    name="files",
    config=FilesSourceConfig,
    load=load,
    check=split_files,
    card=CardFacts(
        pretty_name="user-provided files",
        license="other",
        license_name="user-provided",
        terms="as provided by their author: check them before publishing",
        citation="",
        content="prepared Alpaca JSON/JSONL records",
        mapping="read as written (the outputs are already in odin's format)",
    ),
)
