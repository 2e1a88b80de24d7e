"""ADE Corpus V2: sentences from case reports with drugs and the adverse effects they caused.

One example per sentence: drug -> Drug, adverse effect -> Symptom, every drug-effect pair -> `drug causes effect`
(repeated pairs are kept once and counted). Entities and relations are listed as annotated (file order);
the prepare pipeline orders them by `data.label_order` (odin/data/label_order.py).

Where the data comes from, first match wins:
  1. `data.sources.ade.path`: a folder with DRUG-AE.rel (and ADE-NEG.txt), or a Parquet export of the Hugging Face
     dataset (a folder of .parquet files, or one holding `<hub_config>/` with them);
  2. `<paths.raw_data_dir>/ade`;
  3. the Hugging Face Hub (`hub_id`, `hub_config`).

DRUG-AE.rel gives the PMID, so an example's doc_id is its PMID and sentences of one abstract stay in one split. The
Hugging Face dataset has no PMID: there each distinct sentence is its own document, with doc_id `sha1:<hash of the
sentence>`, stable across runs and machines. Grouping by text merges the one sentence that DRUG-AE.rel lists under
two PMIDs, so the Hub path yields 4,271 examples where the .rel path yields 4,272; otherwise the examples are the same.

The .rel offsets count into a `PMID\\n\\nTitle\\n\\nAbstract` layout, not the sentence, so they are only checked for
consistency (end - begin = length of the string); entities are found by searching the sentence.
`negatives` adds the sentences of ADE-NEG.txt (or the Hub's classification config, label 0) as examples with an
empty extraction: to the training split alone (`train`: the prepare pipeline adds them after the splits are drawn,
so val and test are the same as without them), or to every split (`all`); `negative_ratio` thins them.

Local files (both layouts) are checked against the release before they are parsed (odin/data/release.py).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Iterable, Optional

from odin.bounds import bounded

from odin.data.example import Example, SourceResult
from odin.data.release import Release, ReleaseCheck, ReleaseFile, SourceOrigin
from odin.data.sources import CardFacts, Source, corpus_location
from odin.errors import OdinError
from odin.extraction import Entity, Extraction, Relation


class Negatives(str, Enum):
    """Where ADE-NEG.txt's sentences (no adverse effect: an empty answer) go."""

    none = "none"  # not read
    train = "train"  # the training split only, after the splits are drawn: val and test stay as without them
    all = "all"  # every split (the splits are drawn over positives and negatives together, so val and test change)

    def __str__(self) -> str:
        return self.value


@dataclass
class AdeSourceConfig:
    weight: float = 1.0  # sampling weight in a mix: 0 drops the source, 0.5 keeps half of it, 2 repeats it
    cap: Optional[int] = None  # at most this many training examples from the source
    path: Optional[str] = None  # folder with DRUG-AE.rel (and ADE-NEG.txt), or a Parquet export; None: the Hub
    hub_id: str = "ade-benchmark-corpus/ade_corpus_v2"
    hub_config: str = "Ade_corpus_v2_drug_ade_relation"
    negatives: Negatives = Negatives.none  # ADE-NEG.txt sentences as examples with an empty answer: none | train | all
    # With negatives: at most this many negatives per annotated sentence (0.5: half as many), the same subset every
    # run (chosen by a hash of the text; a smaller ratio keeps a subset of a larger one's). null: all 16,688.
    negative_ratio: Optional[float] = bounded(None, ge=0)
    # Read local files that differ from the release (a warning, and the dataset card says so) instead of stopping.
    allow_modified: bool = False


REL_FILE = "DRUG-AE.rel"
NEG_FILE = "ADE-NEG.txt"
HF_NEGATIVES_CONFIG = "Ade_corpus_v2_classification"  # label 0 = Not-Related: the ADE-NEG.txt sentences

DROP_REPEATED_PAIR = "ADE drug-effect pair repeated in the same sentence"
DROP_NEG_DUPLICATE = "ADE negative sentence listed twice"

Pair = tuple[str, str, str]  # (drug, effect, where): `where` names the line or row, for error messages

# The original files (trunghlt/AdverseDrugReaction, 2016) and the Hugging Face dataset's Parquet export, whose files
# are named by <config>/<file> inside the export. Sentences are counted as odin reads them: distinct (PMID, sentence)
# pairs in the .rel/.txt files, distinct sentence strings in the export (label 0 only, for the negatives).
RELEASE = Release("ADE Corpus V2", (
    ReleaseFile(REL_FILE, 1_423_024, "542cdc483ccc94927762eaf2c9a8ecac49a6c10037dda2895be6a6e20160f75a", 4_272,
                "sentences"),
    ReleaseFile(NEG_FILE, 2_308_469, "8f506c159042ce354fbf26981dc39971dde8f09b1158d94106eab1e516e53fcf", 16_688,
                "sentences"),
    ReleaseFile("Ade_corpus_v2_drug_ade_relation/train-00000-of-00001.parquet", 491_362,
                "f7c34957a1d9e7c0977df67d490d60422937ecd027336b40b92c419708b038b7", 4_271, "sentences"),
    ReleaseFile(f"{HF_NEGATIVES_CONFIG}/train-00000-of-00001.parquet", 1_706_476,
                "599e7777b35170c40a7d4cdf5cbb1941fad7d6565f1bd7182b2bf271d30379f5", 16_625, "negative sentences"),
))


def load(cfg: AdeSourceConfig, raw_data_dir: Optional[str]) -> SourceResult:
    return place_negatives(_load(cfg, raw_data_dir), cfg)


def _load(cfg: AdeSourceConfig, raw_data_dir: Optional[str]) -> SourceResult:
    found = corpus_location("ade", cfg.path, raw_data_dir)
    if found is None:
        return _load_hub(cfg)
    location, key = found
    check = ReleaseCheck("ade", RELEASE, cfg.allow_modified)
    if (location / REL_FILE).is_file():
        return load_rel_folder(location, _wants_negatives(cfg), check)
    parquet = _parquet_files(location, cfg.hub_config)
    if not parquet:
        raise OdinError(
            f"{location} (from {key}) holds neither {REL_FILE} nor .parquet files of the Hugging Face export "
            f"({cfg.hub_config}); point {key} at the folder with {REL_FILE} (and {NEG_FILE})"
        )
    negatives = None
    if _wants_negatives(cfg):
        negatives = _parquet_files(parquet[0].parent.parent, HF_NEGATIVES_CONFIG)
        if not negatives:
            raise OdinError(
                f"data.sources.ade.negatives={cfg.negatives} needs the {HF_NEGATIVES_CONFIG} export beside "
                f"{parquet[0].parent}; add it, or set data.sources.ade.negatives=none"
            )
    for f in parquet + (negatives or []):
        check.file(f, _export_name(f))
    origin = str(parquet[0].parent)
    groups = hf_positives(_read_parquet(parquet), origin)
    if len(parquet) == 1:
        check.documents(parquet[0], _export_name(parquet[0]), len(groups))
    dropped: Counter = Counter()
    negative_texts = None
    if negatives:
        negative_texts = hf_negatives(_read_parquet(negatives), origin, dropped)
        if len(negatives) == 1:
            check.documents(negatives[0], _export_name(negatives[0]), len(negative_texts))
    result = examples_from_hf(groups, negative_texts, dropped)
    result.origin = check.record
    return result


def _export_name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


# ---------------------------------------------------------------------------------------------- original files


def load_rel_folder(folder: Path, read_negatives: bool, check: ReleaseCheck) -> SourceResult:
    dropped: Counter = Counter()
    check.file(folder / REL_FILE, REL_FILE)
    groups = read_rel(folder / REL_FILE)
    check.documents(folder / REL_FILE, REL_FILE, len(groups))
    examples, per_pmid = [], Counter()
    for (pmid, sentence), pairs in groups.items():
        examples.append(sentence_example(f"ade:{pmid}:{per_pmid[pmid]}", pmid, sentence, pairs, dropped))
        per_pmid[pmid] += 1
    if read_negatives:
        path = folder / NEG_FILE
        if not path.is_file():
            raise OdinError(
                f"data.sources.ade negatives need {path}; add it or set data.sources.ade.negatives=none"
            )
        positives = {sentence for _, sentence in groups}
        check.file(path, NEG_FILE)
        negatives = read_neg(path, dropped)
        check.documents(path, NEG_FILE, len(negatives))
        examples += _negative_examples(negatives, positives, dropped, by_pmid=True)
    return SourceResult(examples, dropped, check.record)


def read_rel(path: Path) -> dict[tuple[str, str], list[Pair]]:
    """DRUG-AE.rel rows grouped by (PMID, sentence), in file order."""
    groups: dict[tuple[str, str], list[Pair]] = {}
    for lineno, line in _lines(path):
        cols = line.split("|")
        if len(cols) != 8:
            raise OdinError(
                f"{path}, line {lineno}: {len(cols)} '|'-separated fields; expected 8 "
                "(PMID|sentence|effect|begin|end|drug|begin|end)"
            )
        pmid, sentence, effect, eb, ee, drug, db, de = cols
        if not pmid.isdigit() or not sentence.strip():
            raise OdinError(f"{path}, line {lineno}: expected a numeric PMID and a sentence, got {pmid!r}")
        for name, text, begin, end in (("effect", effect, eb, ee), ("drug", drug, db, de)):
            if not (begin.isdigit() and end.isdigit()) or int(end) - int(begin) != len(text) or not text:
                raise OdinError(
                    f"{path}, line {lineno}: {name} {text!r} has offsets {begin}-{end}, which do not span its "
                    f"{len(text)} characters"
                )
        groups.setdefault((pmid, sentence), []).append((drug, effect, f"{path}, line {lineno}"))
    return groups


def read_neg(path: Path, dropped: Counter) -> list[tuple[str, str]]:
    """ADE-NEG.txt as unique (PMID, sentence) pairs in file order; repeated lines are counted."""
    seen: dict[tuple[str, str], None] = {}
    for lineno, line in _lines(path):
        parts = line.split(" ", 2)
        if len(parts) != 3 or parts[1] != "NEG" or not parts[0].isdigit() or not parts[2].strip():
            raise OdinError(f"{path}, line {lineno}: expected 'PMID NEG sentence', got {line[:80]!r}")
        key = (parts[0], parts[2])
        if key in seen:
            dropped[DROP_NEG_DUPLICATE] += 1
        seen[key] = None
    return list(seen)


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise OdinError(f"{path}: not UTF-8 text ({err})") from err
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line.strip():
            yield lineno, line


# -------------------------------------------------------------------------------------------- Hugging Face dataset


def _load_hub(cfg: AdeSourceConfig) -> SourceResult:
    origin = f"{cfg.hub_id} ({cfg.hub_config})"
    groups = hf_positives(_hub_dataset(cfg.hub_id, cfg.hub_config), origin)
    dropped: Counter = Counter()
    negatives = None
    if _wants_negatives(cfg):
        negatives = hf_negatives(_hub_dataset(cfg.hub_id, HF_NEGATIVES_CONFIG), origin, dropped)
    result = examples_from_hf(groups, negatives, dropped)
    result.origin = SourceOrigin(f"the Hugging Face Hub: {origin}")
    return result


def _hub_dataset(hub_id: str, config: str):
    import datasets

    try:
        return datasets.load_dataset(hub_id, config, split="train")
    except Exception as err:  # offline, unknown id, auth: every failure gets the same way out
        raise OdinError(
            f"Could not load the ADE corpus from the Hugging Face Hub ({hub_id}, config {config}): {err}. Offline, "
            "set data.sources.ade.path=<folder with DRUG-AE.rel and ADE-NEG.txt, or a Parquet export>, or "
            "paths.raw_data_dir=<folder holding ade/> (or the ODIN_RAW_DATA environment variable)."
        ) from err


def _parquet_files(location: Path, config: str) -> list[Path]:
    if location.is_file():
        return [location] if location.suffix == ".parquet" else []
    return sorted(location.glob("*.parquet")) or sorted((location / config).glob("*.parquet"))


def _read_parquet(files: list[Path]):
    import datasets

    try:
        return datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train")
    except Exception as err:  # pyarrow and datasets raise many types for a damaged file; all mean the same here
        raise OdinError(f"{', '.join(map(str, files))}: not a readable Parquet export ({type(err).__name__}: {err})"
                        ) from err


def hf_positives(positives, origin: str) -> dict[str, list[Pair]]:
    """The relation rows of the Hugging Face dataset (`text`, `drug`, `effect` columns) grouped by sentence."""
    missing = {"text", "drug", "effect"} - set(positives.column_names)
    if missing:
        raise OdinError(f"{origin}: columns {sorted(missing)} missing; got {positives.column_names}")
    cols = positives.select_columns(["text", "drug", "effect"]).to_dict()
    groups: dict[str, list[Pair]] = {}
    for row, (text, drug, effect) in enumerate(zip(cols["text"], cols["drug"], cols["effect"])):
        if not (text and drug and effect):
            raise OdinError(f"{origin}, row {row}: empty text, drug or effect")
        groups.setdefault(text, []).append((drug, effect, f"{origin}, row {row}"))
    return groups


def hf_negatives(negatives, origin: str, dropped: Counter) -> list[str]:
    """The distinct Not-Related sentences (label 0) of the classification config, in row order."""
    if "label" not in negatives.column_names or "text" not in negatives.column_names:
        raise OdinError(f"{origin}: the negatives ({HF_NEGATIVES_CONFIG}) need 'text' and 'label' columns")
    neg = negatives.select_columns(["text", "label"]).to_dict()
    seen: dict[str, None] = {}
    for text, label in zip(neg["text"], neg["label"]):
        if label == 0:
            if text in seen:
                dropped[DROP_NEG_DUPLICATE] += 1
            seen[text] = None
    return list(seen)


def examples_from_hf(groups: dict[str, list[Pair]], negatives: Optional[list[str]], dropped: Counter) -> SourceResult:
    """Examples from the Hugging Face dataset: one per sentence, its doc_id a hash of the text (there is no PMID)."""
    examples = []
    for text, pairs in groups.items():
        doc_id = sentence_doc_id(text)
        examples.append(sentence_example(f"ade:{doc_id}", doc_id, text, pairs, dropped))
    if negatives is not None:
        examples += _negative_examples([(sentence_doc_id(t), t) for t in negatives], set(groups), dropped,
                                       by_pmid=False)
    return SourceResult(examples, dropped)


def sentence_doc_id(text: str) -> str:
    """A document id for a sentence without a PMID: the same text always gets the same id."""
    return "sha1:" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------------ shared


def sentence_example(example_id: str, doc_id: str, sentence: str, pairs: list[Pair], dropped: Counter) -> Example:
    for drug, effect, where in pairs:
        for name, text in (("drug", drug), ("effect", effect)):
            if text not in sentence:
                raise OdinError(f"{where}: {name} {text!r} does not occur in its sentence {sentence[:80]!r}")
    # As annotated (the file's rows, drug before effect); the prepare pipeline puts them in data.label_order.
    entities = [entity for drug, effect, _ in pairs for entity in (Entity(drug, "Drug"), Entity(effect, "Symptom"))]
    relations = [Relation(drug, "causes", effect) for drug, effect, _ in pairs]
    extraction = Extraction(_first_written(entities, lambda e: sentence.find(e.text)),
                            _first_written(relations, lambda r: (sentence.find(r.head), sentence.find(r.tail))))
    if len(extraction.relations) < len(relations):
        dropped[DROP_REPEATED_PAIR] += len(relations) - len(extraction.relations)
    return Example(example_id, doc_id, sentence, extraction, "ade")


def _first_written(items: list, position) -> tuple:
    """One item per scoring key, in the order keys are first annotated; a key annotated in spellings that differ only
    in case ("Metformin", "metformin") is written as it occurs first in the sentence, the span a model copies."""
    chosen: dict = {}
    for item in items:
        key = item.key()
        if key not in chosen or position(item) < position(chosen[key]):
            chosen[key] = item
    return tuple(chosen.values())


def _negative_examples(negatives: list[tuple[str, str]], positives: set[str], dropped: Counter,
                       by_pmid: bool) -> list[Example]:
    examples, per_doc = [], Counter()
    for doc_id, sentence in negatives:
        if sentence in positives:
            # A sentence cannot both have and lack an adverse effect; the positive annotation wins.
            dropped["ADE negative sentence that is also annotated with a drug-effect pair"] += 1
            continue
        example_id = f"ade:{doc_id}:neg{per_doc[doc_id]}" if by_pmid else f"ade:{doc_id}"
        per_doc[doc_id] += 1
        examples.append(Example(example_id, doc_id, sentence, Extraction(), "ade"))
    return examples


def _wants_negatives(cfg: AdeSourceConfig) -> bool:
    return str(cfg.negatives) != "none"


def place_negatives(result: SourceResult, cfg: AdeSourceConfig) -> SourceResult:
    """The negatives read with the positives, thinned to `negative_ratio` and put where `negatives` says: among the
    examples (all splits) or in `train_only` (the training split alone)."""
    if not _wants_negatives(cfg):
        return result
    # Every annotated sentence has at least one drug-effect pair, so an empty answer is a negative.
    positives = [ex for ex in result.examples if ex.extraction]
    negatives = [ex for ex in result.examples if not ex.extraction]
    if cfg.negative_ratio is not None and round(cfg.negative_ratio * len(positives)) < len(negatives):
        n = round(cfg.negative_ratio * len(positives))
        by_hash = sorted(range(len(negatives)), key=lambda i: (hashlib.sha1(negatives[i].text.encode()).digest(), i))
        keep = set(by_hash[:n])
        result.dropped[f"ADE negative sentence over negative_ratio={cfg.negative_ratio:g}"] += len(negatives) - n
        negatives = [ex for i, ex in enumerate(negatives) if i in keep]
    if str(cfg.negatives) == "train":
        result.examples, result.train_only = positives, negatives
    else:
        result.examples = positives + negatives
    return result


def _negatives_note(cfg: AdeSourceConfig) -> str:
    if not _wants_negatives(cfg):
        return ""
    where = " in the training split only" if str(cfg.negatives) == "train" else ""
    ratio = f" (at most {cfg.negative_ratio:g} per annotated sentence)" if cfg.negative_ratio is not None else ""
    return f"; ADE-NEG.txt sentences (no adverse effect) are examples with nothing to extract{where}{ratio}"


def _check(cfg: AdeSourceConfig, raw_data_dir: Optional[str]) -> None:
    if cfg.negative_ratio is not None and not _wants_negatives(cfg):
        raise OdinError(f"data.sources.ade.negative_ratio={cfg.negative_ratio} thins the negatives, but "
                        "data.sources.ade.negatives=none reads none; set negatives=train (or all), or drop the ratio")
    if corpus_location("ade", cfg.path, raw_data_dir) is None:
        # No local files: the Hub it is. Asked once, in a few seconds, rather than after datasets' retries.
        from odin.offline import require_hub

        require_hub(f"The ADE corpus ({cfg.hub_id})",
                    "Set paths.raw_data_dir=<folder holding ade/> (or the ODIN_RAW_DATA environment variable), or "
                    "data.sources.ade.path=<folder with DRUG-AE.rel and ADE-NEG.txt>.")


SOURCE = Source(
    name="ade",
    config=AdeSourceConfig,
    load=load,
    check=_check,
    release=RELEASE,
    card=CardFacts(
        pretty_name="ADE Corpus V2",
        license="unknown",
        license_name=None,
        terms="no licence stated by the corpus (its README only asks for a citation); the sentences come from "
              "PubMed abstracts",
        citation="Gurulingappa H, Rajput AM, Roberts A, Fluck J, Hofmann-Apitius M, Toldo L. Development of a "
                 "benchmark corpus to support the automatic extraction of drug-related adverse effects from medical "
                 "case reports. J Biomed Inform 2012;45(5):885-892. https://doi.org/10.1016/j.jbi.2012.04.008",
        content="sentences from PubMed case reports, annotated with drugs and the adverse effects they caused",
        mapping=lambda cfg: "drug -> Drug, adverse effect -> Symptom, every drug-effect pair of a sentence -> "
                            "`drug causes effect`" + _negatives_note(cfg),
        source_dataset="extended|ade-benchmark-corpus/ade_corpus_v2",
    ),
)
