"""BioRED: PubMed abstracts with genes, diseases, chemicals, variants, species and cell lines, and relations between them.

One example per abstract (text = title + " " + abstract) in the official split (Train / Dev / Test -> train / val /
test), read from BioC JSON (`file_format: bioc`, the default) or PubTator; both give the same examples.
ChemicalEntity -> Drug and DiseaseOrPhenotypicFeature -> Disease; the other entity types are dropped and counted.
Relation types become odin types through `data.sources.biored.relation_map` (unmapped types are dropped and
counted); a relation is kept only when both of its concepts are kept types (chemical-disease, chemical-chemical).
BioRED relations link concept IDs, so each is written with the first mention (in text order) of its two concepts.
The files are checked against the release (sizes, sha256, 400 / 100 / 100 abstracts) before and after they are
parsed (odin/data/release.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Dict, Mapping, Optional

from odin.data.bioc import read_bioc_json
from odin.data.example import Example, SourceResult
from odin.data.pubtator import Document, read_pubtator
from odin.data.release import Release, ReleaseCheck, ReleaseFile
from odin.data.sources import CardFacts, Source, corpus_location
from odin.errors import OdinError
from odin.extraction import RELATION_TYPES, Entity, Extraction, Relation


class BioredFormat(str, Enum):
    """Which of the release's two layouts to read; a typo fails at composition, listing both."""

    bioc = "bioc"
    pubtator = "pubtator"

    def __str__(self) -> str:
        return self.value


@dataclass
class BioredSourceConfig:
    weight: float = 1.0
    cap: Optional[int] = None
    path: Optional[str] = None  # folder with {Train,Dev,Test}.BioC.JSON or .PubTator
    hub_id: str = "bigbio/biored"
    file_format: BioredFormat = BioredFormat.bioc
    # BioRED relation type -> odin relation type; types not listed are dropped (and counted in the report).
    relation_map: Dict[str, str] = field(
        default_factory=lambda: {
            "Positive_Correlation": "causes",
            "Negative_Correlation": "treats",
            "Association": "associated_with",
            "Bind": "interacts_with",
            "Drug_Interaction": "interacts_with",
            "Cotreatment": "associated_with",
        }
    )
    # Read files that differ from the release (a warning, and the dataset card says so) instead of stopping.
    allow_modified: bool = False


SPLITS = {"train": "Train", "val": "Dev", "test": "Test"}
SUFFIXES = {"bioc": ".BioC.JSON", "pubtator": ".PubTator"}
# BIORED.zip from ftp.ncbi.nlm.nih.gov/pub/lu/BioRED/: both layouts, the same documents in each.
RELEASE = Release("BioRED (BIORED.zip, NCBI)", (
    ReleaseFile("Train.BioC.JSON", 5_133_087, "53e08e0acff5043937cdd3fdb595639e59bfb0390b64760a3840f6e1a2a69987", 400,
                "abstracts"),
    ReleaseFile("Dev.BioC.JSON", 1_367_474, "d5ab4d05673ac46fb5e3b2904d2820462dec2c4c50dfcdd8678635ff1b8ce1f5", 100,
                "abstracts"),
    ReleaseFile("Test.BioC.JSON", 1_360_192, "35ec8aad0c62032689b4a957220c7532eb067dc7e159d70cc42e6d40e6c447c6", 100,
                "abstracts"),
    ReleaseFile("Train.PubTator", 1_606_317, "472cf3a38aa1732c08918e561a86a28d331b80ecddc7f77b3de02cc705181b81", 400,
                "abstracts"),
    ReleaseFile("Dev.PubTator", 428_174, "504f8c8be806606d519b6c360f3164ff89dbfa5610f603bafe662ab2605bca76", 100,
                "abstracts"),
    ReleaseFile("Test.PubTator", 420_436, "91d478f1e67d310f49d7797e3ea731c97ac1d8f6275245fde5b9dd12c4551c16", 100,
                "abstracts"),
))
ENTITY_TYPES = {"ChemicalEntity": "Drug", "DiseaseOrPhenotypicFeature": "Disease"}

DROP_UNNORMALISED = (
    "BioRED chemical/disease mention with no concept ID ('-'): kept as an entity, no relation can name it"
)
DROP_OTHER_TYPES = "BioRED relation with a concept of a dropped entity type (gene, variant, ...)"
DROP_UNMENTIONED = "BioRED relation whose concept ID no mention in the text carries"
DROP_SAME_TEXT = "BioRED relation between two concepts written with the same mention"
DROP_DUPLICATE = "BioRED relation identical to another once written with mention text"


def load(cfg: BioredSourceConfig, raw_data_dir: Optional[str]) -> SourceResult:
    folder = _folder(cfg, raw_data_dir)
    file_format = str(cfg.file_format)
    relation_map = _relation_map(cfg.relation_map)
    check = ReleaseCheck("biored", RELEASE, cfg.allow_modified)
    examples: list[Example] = []
    dropped: Counter = Counter()
    for split, stem in SPLITS.items():
        name = f"{stem}{SUFFIXES[file_format]}"
        path = folder / name
        if not path.is_file():
            raise OdinError(
                f"BioRED file {path} not found (data.sources.biored.file_format={file_format}); the folder needs "
                + ", ".join(f"{s}{SUFFIXES[file_format]}" for s in SPLITS.values())
            )
        check.file(path, name)
        docs = read_bioc_json(path) if file_format == "bioc" else read_pubtator(path, id_separator=",")
        check.documents(path, name, len(docs))
        examples += [document_example(doc, split, relation_map, dropped) for doc in docs]
    return SourceResult(examples, dropped, check.record)


def document_example(doc: Document, split: Optional[str], relation_map: Mapping[str, str], dropped: Counter) -> Example:
    entities = []
    for m in doc.mentions:
        etype = ENTITY_TYPES.get(m.type)
        if etype is None:
            dropped[f"BioRED entity type {m.type}"] += 1
            continue
        entities.append(Entity(m.text, etype))
        if not m.concept_ids:
            dropped[DROP_UNNORMALISED] += 1
    kept = doc.first_mentions(ENTITY_TYPES)
    mentioned = {cid for m in doc.mentions for cid in m.concept_ids}
    relations = []
    for r in doc.relations:
        rtype = relation_map.get(r.type)
        if rtype is None:
            dropped[f"BioRED relation type {r.type} (not in data.sources.biored.relation_map)"] += 1
            continue
        head, tail = kept.get(r.id1), kept.get(r.id2)
        if head is None or tail is None:
            missing = [cid for cid in (r.id1, r.id2) if cid not in mentioned]
            dropped[DROP_UNMENTIONED if missing else DROP_OTHER_TYPES] += 1
            continue
        if head.start == tail.start or head.text.lower() == tail.text.lower():
            dropped[DROP_SAME_TEXT] += 1
            continue
        # BioRED relations have no direction: its files list chemical-disease pairs both ways round (Train: 575
        # chemical first, 237 disease first). odin's types read drug -> disease ("causes", "treats"), so the Drug is
        # the head whenever exactly one side is a Drug; drug-drug pairs keep the corpus' entity1 -> entity2 order.
        if ENTITY_TYPES[tail.type] == "Drug" and ENTITY_TYPES[head.type] != "Drug":
            head, tail = tail, head
        relations.append(Relation(head.text, rtype, tail.text))
    extraction = Extraction.of(entities, relations)
    if len(extraction.relations) < len(relations):
        dropped[DROP_DUPLICATE] += len(relations) - len(extraction.relations)
    return Example(f"biored:{doc.pmid}", doc.pmid, doc.text, extraction, "biored", split)


def _relation_map(mapping) -> dict[str, str]:
    result = {str(k): str(v) for k, v in dict(mapping or {}).items()}
    for k, v in result.items():
        if v not in RELATION_TYPES:
            raise OdinError(
                f"data.sources.biored.relation_map.{k}={v!r} is not an odin relation type; use one of "
                f"{', '.join(RELATION_TYPES)}"
            )
    return result


def _folder(cfg: BioredSourceConfig, raw_data_dir: Optional[str]) -> Path:
    found = corpus_location("biored", cfg.path, raw_data_dir)
    if found is None:
        raise OdinError(
            "BioRED needs the corpus files ({Train,Dev,Test}.BioC.JSON, or .PubTator with "
            "data.sources.biored.file_format=pubtator); there is no Hub copy that loads without a script. Download "
            "BIORED.zip from ftp.ncbi.nlm.nih.gov/pub/lu/BioRED/ and set data.sources.biored.path=<folder with the "
            "files>, or paths.raw_data_dir=<folder holding biored/> (or the ODIN_RAW_DATA environment variable)."
        )
    folder, key = found
    if not folder.is_dir():
        raise OdinError(f"BioRED location {folder} (from {key}) is not a folder; point {key} at the folder of corpus files")
    return folder


def _mapping(cfg) -> str:
    relations = ", ".join(f"{k} -> {v}" for k, v in dict(cfg.relation_map or {}).items())
    return ("ChemicalEntity -> Drug, DiseaseOrPhenotypicFeature -> Disease; relations " + relations + "; other "
            "entity types (genes, variants, species, cell lines) and relation types are dropped and counted below. "
            "Relations link concepts, written with their first mention; a chemical-disease relation has the Drug "
            "as its head")


def _check(cfg, raw_data_dir: Optional[str]) -> None:
    _relation_map(cfg.relation_map)
    _folder(cfg, raw_data_dir)


SOURCE = Source(
    name="biored",
    config=BioredSourceConfig,
    load=load,
    release=RELEASE,
    check=_check,
    card=CardFacts(
        pretty_name="BioRED",
        license="other",
        license_name="public-domain",
        terms="public domain (NCBI, a United States Government Work: no restriction on use or reproduction)",
        citation="Luo L, Lai PT, Wei CH, Arighi CN, Lu Z. BioRED: a rich biomedical relation extraction dataset. "
                 "Brief Bioinform 2022;23(5):bbac282. https://doi.org/10.1093/bib/bbac282",
        content="PubMed abstracts annotated with genes, diseases, chemicals, variants, species and cell lines, and "
                "the relations between them",
        mapping=_mapping,
        source_dataset="extended|bigbio/biored",
    ),
)
