"""Shared by the training tests: a small prepared data directory of hand-written notes, and tiny-model overrides."""

from __future__ import annotations

from pathlib import Path

from odin.data.prepared import write_split
from odin.extraction import Entity, Extraction, Relation
from odin.format import to_record

# (drug, effect, effect type, relation): short notes so prompt + answer fit the tiny model's 256 tokens.
NOTES = [
    ("enalapril", "acute renal failure", "Symptom", "causes"),
    ("metformin", "lactic acidosis", "Symptom", "causes"),
    ("amoxicillin", "pneumonia", "Disease", "treats"),
    ("cisplatin", "nausea", "Symptom", "causes"),
    ("haloperidol", "schizophrenia", "Disease", "treats"),
    ("ibuprofen", "gastric bleeding", "Symptom", "causes"),
    ("lithium", "tremor", "Symptom", "causes"),
    ("warfarin", "atrial fibrillation", "Disease", "treats"),
    ("prednisone", "rheumatoid arthritis", "Disease", "treats"),
    ("aspirin", "headache", "Symptom", "treats"),
    ("ondansetron", "vomiting", "Symptom", "treats"),
    ("clarithromycin", "rash", "Symptom", "causes"),
]


def note_records(n: int, offset: int = 0) -> list[dict]:
    records = []
    for i in range(n):
        drug, effect, etype, rel = NOTES[(i + offset) % len(NOTES)]
        text = f"Patient given {drug}; {effect} noted." if rel == "causes" else f"{drug} was started for {effect}."
        extraction = Extraction.of([Entity(drug, "Drug"), Entity(effect, etype)], [Relation(drug, rel, effect)])
        records.append({**to_record(text, extraction), "id": f"note:{i + offset}", "doc_id": f"d{i + offset}",
                        "source": "files"})
    return records


def write_data(data_dir: Path, n_train: int = 8, n_val: int = 4) -> Path:
    write_split(note_records(n_train), data_dir, "train")
    if n_val:
        write_split(note_records(n_val, offset=n_train), data_dir, "val")
    return data_dir


# A few optimizer steps on the tiny random Llama through the hf backend (also on GPUs that have Unsloth installed);
# each test adds what it checks.
TINY = ["model=tiny_random", "model.backend=hf", "training=smoke", "training.logging_steps=1"]
