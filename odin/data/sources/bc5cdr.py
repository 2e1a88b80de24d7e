"""BioCreative V CDR (BC5CDR): chemicals, diseases and chemical-induced-disease (CID) relations in PubMed abstracts.

One example per abstract (text = title + " " + abstract), in the corpus' own split (Training / Development / Test ->
train / val / test). Chemical -> Drug, Disease -> Disease, CID -> causes (chemical causes disease).

CID relations link MeSH concepts, not mentions, so each is written with the first mention (in text order) of its two
concepts. A composite mention ("ocular and auditory toxicity", D014786|D006311) stands for each of its IDs. What
cannot be used is counted in `SourceResult.dropped`: relations whose concept no mention in the text carries, and
mentions normalised to `-1` (kept as entities, but no relation can name them).

The PubTator files are checked against the release (CDR.Corpus.v010516: sizes, sha256, 500 abstracts per split)
before and after they are parsed (odin/data/release.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from odin.data.example import Example, SourceResult
from odin.data.pubtator import Document, read_pubtator
from odin.data.release import Release, ReleaseCheck, ReleaseFile
from odin.data.sources import CardFacts, Source, corpus_location
from odin.errors import OdinError
from odin.extraction import Entity, Extraction, Relation


@dataclass
class Bc5cdrSourceConfig:
    weight: float = 1.0
    cap: Optional[int] = None
    path: Optional[str] = None  # folder with CDR_{Training,Development,Test}Set.PubTator.txt
    hub_id: str = "bigbio/bc5cdr"
    # Read files that differ from the release (a warning, and the dataset card says so) instead of stopping.
    allow_modified: bool = False


FILES = {
    "train": "CDR_TrainingSet.PubTator.txt",
    "val": "CDR_DevelopmentSet.PubTator.txt",
    "test": "CDR_TestSet.PubTator.txt",
}
RELEASE = Release("CDR.Corpus.v010516", (
    ReleaseFile(FILES["train"], 1_129_998, "7afcec134e3d4871e74b0398d92850d3c9ac94c0bdc780003f2d60184c012bd8", 500,
                "abstracts"),
    ReleaseFile(FILES["val"], 1_127_990, "9e18d8e700168887a7919e62f67ac2ce2357e3f409a48ee992906abdd80fe3e5", 500,
                "abstracts"),
    ReleaseFile(FILES["test"], 1_168_687, "a3c48d5f35bdfce20c2371778abedc9fd24d1da092207072e5181ad53c8d0e2f", 500,
                "abstracts"),
))
ENTITY_TYPES = {"Chemical": "Drug", "Disease": "Disease"}

DROP_UNNORMALISED = "BC5CDR mention with MeSH ID -1: kept as an entity, no relation can name it"
DROP_UNMENTIONED = "BC5CDR CID relation whose chemical or disease ID no mention in the text carries"
DROP_DUPLICATE = "BC5CDR CID relation identical to another once written with mention text"


def load(cfg: Bc5cdrSourceConfig, raw_data_dir: Optional[str]) -> SourceResult:
    folder = _folder(cfg, raw_data_dir)
    check = ReleaseCheck("bc5cdr", RELEASE, cfg.allow_modified)
    examples: list[Example] = []
    dropped: Counter = Counter()
    for split, name in FILES.items():
        path = folder / name
        if not path.is_file():
            raise OdinError(f"BC5CDR file {path} not found; the folder needs {', '.join(FILES.values())}")
        check.file(path, name)
        docs = read_pubtator(path, id_separator="|")
        check.documents(path, name, len(docs))
        examples += [document_example(doc, split, dropped) for doc in docs]
    return SourceResult(examples, dropped, check.record)


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


SOURCE = Source(
    name="bc5cdr",
    config=Bc5cdrSourceConfig,
    load=load,
    check=lambda cfg, raw_data_dir: _folder(cfg, raw_data_dir),
    release=RELEASE,
    card=CardFacts(
        pretty_name="BioCreative V CDR",
        license="other",
        license_name="public-domain",
        terms="public domain (NCBI, a United States Government Work: no restriction on use or reproduction)",
        citation="Li J, Sun Y, Johnson RJ, Sciaky D, Wei CH, Leaman R, Davis AP, Mattingly CJ, Wiegers TC, Lu Z. "
                 "BioCreative V CDR task corpus: a resource for chemical disease relation extraction. Database "
                 "2016:baw068. https://doi.org/10.1093/database/baw068",
        content="PubMed abstracts annotated with chemicals, diseases and chemical-induced-disease (CID) relations",
        mapping="Chemical -> Drug, Disease -> Disease, CID (chemical-induced disease) -> causes, written with the "
                "first mention of each of the two concepts",
        source_dataset="extended|bigbio/bc5cdr",
    ),
)
