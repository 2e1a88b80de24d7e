"""BioCreative V CDR (BC5CDR): chemicals, diseases and chemical-induced-disease (CID) relations in 1,500 abstracts.

One example per abstract (text = title + " " + abstract), in the corpus' own split (Training / Development / Test ->
train / val / test). Chemical -> Drug, Disease -> Disease, CID -> causes (chemical causes disease).

CID relations link MeSH concepts, not mentions, so each is written with the first mention (in text order) of its two
concepts. A composite mention ("ocular and auditory toxicity", D014786|D006311) stands for each of its IDs. What
cannot be used is counted in `SourceResult.dropped`: relations whose concept no mention in the text carries, and
mentions normalised to `-1` (kept as entities, but no relation can name them).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from odin.data.example import Example, SourceResult
from odin.data.pubtator import Document, read_pubtator
from odin.data.sources import corpus_location
from odin.errors import OdinError
from odin.extraction import Entity, Extraction, Relation

if TYPE_CHECKING:
    from odin.schema import Bc5cdrSourceConfig

FILES = {
    "train": "CDR_TrainingSet.PubTator.txt",
    "val": "CDR_DevelopmentSet.PubTator.txt",
    "test": "CDR_TestSet.PubTator.txt",
}
ENTITY_TYPES = {"Chemical": "Drug", "Disease": "Disease"}

DROP_UNNORMALISED = "BC5CDR mention with MeSH ID -1: kept as an entity, no relation can name it"
DROP_UNMENTIONED = "BC5CDR CID relation whose chemical or disease ID no mention in the text carries"
DROP_DUPLICATE = "BC5CDR CID relation identical to another once written with mention text"


def load(cfg: Bc5cdrSourceConfig, raw_data_dir: Optional[str]) -> SourceResult:
    folder = _folder(cfg, raw_data_dir)
    examples: list[Example] = []
    dropped: Counter = Counter()
    for split, name in FILES.items():
        path = folder / name
        if not path.is_file():
            raise OdinError(f"BC5CDR file {path} not found; the folder needs {', '.join(FILES.values())}")
        examples += [document_example(doc, split, dropped) for doc in read_pubtator(path, id_separator="|")]
    return SourceResult(examples, dropped)


def document_example(doc: Document, split: Optional[str], dropped: Counter) -> Example:
    entities = []
    for m in doc.mentions:
        etype = ENTITY_TYPES.get(m.type)
        if etype is None:
            raise OdinError(f"{doc.source}, {m.where}: entity type {m.type!r}; BC5CDR mentions are Chemical or Disease")
        entities.append(Entity(m.text, etype))
        if len(m.concept_ids) < len(m.ids):
            dropped[DROP_UNNORMALISED] += 1
    chemicals, diseases = doc.first_mentions(["Chemical"]), doc.first_mentions(["Disease"])
    relations = []
    for r in doc.relations:
        if r.type != "CID":
            raise OdinError(f"{doc.source}, {r.where}: relation type {r.type!r}; BC5CDR relations are CID")
        head, tail = chemicals.get(r.id1), diseases.get(r.id2)
        if head is None or tail is None:
            dropped[DROP_UNMENTIONED] += 1
            continue
        relations.append(Relation(head.text, "causes", tail.text))
    extraction = Extraction.of(entities, relations)
    if len(extraction.relations) < len(relations):
        dropped[DROP_DUPLICATE] += len(relations) - len(extraction.relations)
    return Example(f"bc5cdr:{doc.pmid}", doc.pmid, doc.text, extraction, "bc5cdr", split)


def _folder(cfg: Bc5cdrSourceConfig, raw_data_dir: Optional[str]) -> Path:
    found = corpus_location("bc5cdr", cfg.path, raw_data_dir)
    if found is None:
        raise OdinError(
            "BC5CDR needs the corpus' PubTator files (CDR_TrainingSet.PubTator.txt, CDR_DevelopmentSet.PubTator.txt, "
            "CDR_TestSet.PubTator.txt); there is no Hub copy that loads without a script. Download the BioCreative V "
            "CDR corpus (CDR_Data.zip, BioCreative V track 3) and set data.sources.bc5cdr.path=<folder with the "
            "files>, or paths.raw_data_dir=<folder holding bc5cdr/> (or the ODIN_RAW_DATA environment variable)."
        )
    folder, key = found
    if not folder.is_dir():
        raise OdinError(f"BC5CDR location {folder} (from {key}) is not a folder; point {key} at the folder of corpus files")
    return folder
