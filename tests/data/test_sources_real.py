"""The ADE, BC5CDR and BioRED sources on the real corpus files, checked against the corpus documentation
(../shared/data/raw/README.md), plus inline malformed inputs for their error messages."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from odin.data.label_order import in_text_order
from odin.data.pubtator import parse_pubtator
from odin.data.sources import ade, bc5cdr, biored
from odin.errors import OdinError
from odin.extraction import Entity, Relation
from odin.data.sources.ade import AdeSourceConfig
from odin.data.sources.bc5cdr import Bc5cdrSourceConfig
from odin.data.sources.biored import BioredSourceConfig

HF_RELATION_DIR = "ade/hf_ade_corpus_v2/Ade_corpus_v2_drug_ade_relation"


def _check_grounded(examples):
    """Every entity occurs in its text, and every relation joins two of the example's entities."""
    for ex in examples:
        keys = {e.text.lower() for e in ex.extraction.entities}
        for e in ex.extraction.entities:
            assert e.text in ex.text, (ex.id, e)
        for r in ex.extraction.relations:
            assert r.head.lower() in keys and r.tail.lower() in keys, (ex.id, r)


def _no_doc_in_two_splits(examples):
    splits_of = {}
    for ex in examples:
        splits_of.setdefault(ex.doc_id, set()).add(ex.split)
    return all(len(s) == 1 for s in splits_of.values())


# ------------------------------------------------------------------------------------------------------------ ADE


@pytest.fixture(scope="module")
def ade_rel(raw_data):
    return ade.load(AdeSourceConfig(), str(raw_data))


@pytest.mark.corpus
def test_ade_rel_counts(raw_data, ade_rel):
    lines = [line.split("|") for line in (raw_data / "ade" / "DRUG-AE.rel").read_text().splitlines()]
    # The README's numbers, recounted from the file.
    assert len(lines) == 6821
    assert len({(c[0], c[1]) for c in lines}) == 4272
    assert len({c[0] for c in lines}) == 1644
    assert len({(c[1], c[5], c[2]) for c in lines}) == 6821 - 189  # 189 lines repeat a (sentence, drug, effect)

    examples = ade_rel.examples
    assert len(examples) == 4272  # one per (PMID, sentence); the one sentence under two PMIDs appears twice
    assert len({e.id for e in examples}) == 4272
    assert len({e.doc_id for e in examples}) == 1644
    assert {e.source for e in examples} == {"ade"} and {e.split for e in examples} == {None}
    # Pairs are deduped per sentence by odin's scoring key (case- and whitespace-insensitive): 188 exact repeats
    # within a (PMID, sentence) plus 16 that differ only in case.
    assert len({(c[0], c[1], c[5], c[2]) for c in lines}) == 6633
    assert sum(len(e.extraction.relations) for e in examples) == 6617
    assert ade_rel.dropped == {ade.DROP_REPEATED_PAIR: 6821 - 6617}
    assert Counter(e.type for ex in examples for e in ex.extraction.entities) == {"Drug": 4918, "Symptom": 5740}
    assert all(r.relation == "causes" for ex in examples for r in ex.extraction.relations)
    assert all(ex.extraction.relations for ex in examples)
    _check_grounded(examples)


@pytest.mark.corpus
def test_ade_spot_checks(ade_rel):
    by_id = {e.id: e for e in ade_rel.examples}
    first = by_id["ade:10030778:0"]
    assert first.doc_id == "10030778" and first.text == "Intravenous azithromycin-induced ototoxicity."
    assert first.extraction.entities == (Entity("azithromycin", "Drug"), Entity("ototoxicity", "Symptom"))
    assert first.extraction.relations == (Relation("azithromycin", "causes", "ototoxicity"),)
    # Two sentences of PMID 10048291, numbered in file order; entities as annotated (drug, then effect).
    paget = by_id["ade:10048291:0"]
    assert paget.text.startswith("Immobilization, while Paget's bone disease")
    assert paget.extraction.entities == (Entity("dihydrotachysterol", "Drug"),
                                         Entity("increased calcium-release", "Symptom"))
    assert by_id["ade:10048291:1"].extraction.relations == (
        Relation("dihydrotachysterol", "causes", "hypercalcemia"),)
    # The sentence DRUG-AE.rel lists under two PMIDs is an example of each.
    mr = [e for e in ade_rel.examples if e.text == "MR findings in methotrexate-induced CNS abnormalities."]
    assert sorted(e.doc_id for e in mr) == ["2505541", "2816647"]


@pytest.mark.corpus
def test_ade_negatives(raw_data, ade_rel):
    result = ade.load(AdeSourceConfig(negatives="all"), str(raw_data))
    negatives = [e for e in result.examples if not e.extraction]
    assert len(negatives) == 16695 - 7  # ADE-NEG.txt lines minus its 7 duplicate lines
    assert result.dropped[ade.DROP_NEG_DUPLICATE] == 7
    assert result.examples[:4272] == ade_rel.examples
    assert len({e.id for e in result.examples}) == len(result.examples)
    assert len({e.doc_id for e in result.examples}) == 2972  # the paper's number of abstracts
    assert negatives[0].id == "ade:6460590:neg0" and negatives[0].text.startswith("Clioquinol intoxication")


@pytest.mark.corpus
def test_ade_hf_parquet_matches_rel(raw_data, ade_rel):
    cfg = AdeSourceConfig(path=str(raw_data / HF_RELATION_DIR))
    hf = ade.load(cfg, None)
    # The export has no PMID: examples are grouped by sentence text, which merges the one sentence DRUG-AE.rel
    # lists under two PMIDs (with the same pair). Otherwise the same records in the same order.
    seen, rel_records = set(), []
    for e in ade_rel.examples:
        if e.text not in seen:
            seen.add(e.text)
            rel_records.append((e.text, e.extraction))
    assert len(hf.examples) == 4271
    assert [(e.text, e.extraction) for e in hf.examples] == rel_records
    assert hf.dropped == {ade.DROP_REPEATED_PAIR: 6821 - 6616}
    assert all(e.doc_id == ade.sentence_doc_id(e.text) and e.id == f"ade:{e.doc_id}" for e in hf.examples)
    # Deterministic ids, and the same whether pointed at the config folder or at the export root.
    again = ade.load(AdeSourceConfig(path=str(raw_data / "ade" / "hf_ade_corpus_v2")), None)
    assert again.examples == hf.examples


@pytest.mark.corpus
def test_ade_hf_parquet_negatives(raw_data):
    rel = ade.load(AdeSourceConfig(negatives="all"), str(raw_data))
    hf = ade.load(AdeSourceConfig(path=str(raw_data / HF_RELATION_DIR), negatives="all"), None)
    # The classification config repeats some negative sentences under several PMIDs; by text both agree.
    assert {e.text for e in hf.examples if not e.extraction} == {e.text for e in rel.examples if not e.extraction}
    assert len([e for e in hf.examples if not e.extraction]) == 16625
    assert hf.dropped[ade.DROP_NEG_DUPLICATE] == 16695 - 16625


def test_ade_hub_unreachable_says_how_to_go_offline(monkeypatch, tmp_path):
    import datasets
    import huggingface_hub.constants

    # Offline mode with empty caches: the real load_dataset call fails at once (no network retries, no cached copy).
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(OdinError, match="data.sources.ade.path=.*paths.raw_data_dir"):
        ade.load(AdeSourceConfig(), None)


ADE_GOOD = "10030778|Intravenous azithromycin-induced ototoxicity.|ototoxicity|43|54|azithromycin|22|34"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("10030778|Intravenous azithromycin-induced ototoxicity.|ototoxicity|43|54|azithromycin|22", "7 '|'-separated"),
        ("10030778|Intravenous azithromycin-induced ototoxicity.|ototoxicity|43|50|azithromycin|22|34",
         "effect 'ototoxicity' has offsets 43-50"),
        ("10030778|Intravenous azithromycin-induced ototoxicity.|ototoxicity|43|54|aspirin|22|29",
         "drug 'aspirin' does not occur in its sentence"),
        ("PMID|Intravenous azithromycin-induced ototoxicity.|ototoxicity|43|54|azithromycin|22|34", "numeric PMID"),
    ],
)
def test_ade_malformed_rel_names_file_and_line(tmp_path, bad, message):
    (tmp_path / "DRUG-AE.rel").write_text(f"{ADE_GOOD}\n{bad}\n")
    with pytest.raises(OdinError, match=message) as err:  # a hand-made file: allowed to differ from the release
        ade.load(AdeSourceConfig(path=str(tmp_path), allow_modified=True), None)
    assert f"{tmp_path / 'DRUG-AE.rel'}, line 2" in str(err.value)


def test_ade_small_folder(tmp_path):
    (tmp_path / "DRUG-AE.rel").write_text(
        f"{ADE_GOOD}\n{ADE_GOOD}\n"
        "10030778|Ototoxicity with Azithromycin and azithromycin.|Ototoxicity|0|11|Azithromycin|17|29\n"
        "10030778|Ototoxicity with Azithromycin and azithromycin.|Ototoxicity|0|11|azithromycin|34|46\n"
    )
    (tmp_path / "ADE-NEG.txt").write_text("99 NEG No effect here.\n99 NEG No effect here.\n99 NEG Nor here.\n")
    small = AdeSourceConfig(path=str(tmp_path), negatives="all", allow_modified=True)
    result = ade.load(small, None)
    assert [e.id for e in result.examples] == ["ade:10030778:0", "ade:10030778:1", "ade:99:neg0", "ade:99:neg1"]
    second = result.examples[1]
    # As annotated (drug, then effect); the two spellings of one drug are written as the sentence first has it.
    assert second.extraction.entities == (Entity("Azithromycin", "Drug"), Entity("Ototoxicity", "Symptom"))
    assert second.extraction.relations == (Relation("Azithromycin", "causes", "Ototoxicity"),)
    assert in_text_order(second.text, second.extraction).entities == (Entity("Ototoxicity", "Symptom"),
                                                                       Entity("Azithromycin", "Drug"))
    assert result.dropped == {ade.DROP_REPEATED_PAIR: 2, ade.DROP_NEG_DUPLICATE: 1}
    (tmp_path / "ADE-NEG.txt").write_text("99 NEG fine\n99 POS wrong\n")
    with pytest.raises(OdinError, match=r"ADE-NEG\.txt, line 2: expected 'PMID NEG sentence'"):
        ade.load(small, None)
    with pytest.raises(OdinError, match="does not exist"):
        ade.load(AdeSourceConfig(path=str(tmp_path / "nowhere")), None)
    (tmp_path / "DRUG-AE.rel").unlink()
    with pytest.raises(OdinError, match="holds neither DRUG-AE.rel nor .parquet"):
        ade.load(AdeSourceConfig(path=str(tmp_path)), None)


# --------------------------------------------------------------------------------------------------------- BC5CDR


@pytest.fixture(scope="module")
def bc5cdr_result(raw_data):
    return bc5cdr.load(Bc5cdrSourceConfig(), str(raw_data))


@pytest.mark.corpus
def test_bc5cdr_counts(bc5cdr_result):
    examples = bc5cdr_result.examples
    assert Counter(e.split for e in examples) == {"train": 500, "val": 500, "test": 500}
    assert len({e.doc_id for e in examples}) == 1500 and _no_doc_in_two_splits(examples)
    # 1,038 / 1,012 / 1,066 CID relations in the files. Every one resolves to mentions (composite mentions carry
    # the IDs that no single mention has); 25 / 30 / 11 collapse into another relation once written as text, because
    # both concepts share a multi-ID mention (e.g. "hemorrhagic cystitis" is D006470|D003556).
    relations = Counter()
    for e in examples:
        relations[e.split] += len(e.extraction.relations)
    assert relations == {"train": 1038 - 25, "val": 1012 - 30, "test": 1066 - 11}
    assert bc5cdr_result.dropped == {bc5cdr.DROP_DUPLICATE: 66, bc5cdr.DROP_UNNORMALISED: 76 + 60 + 91}
    assert {e.type for ex in examples for e in ex.extraction.entities} == {"Drug", "Disease"}
    assert all(r.relation == "causes" for ex in examples for r in ex.extraction.relations)
    for ex in examples:  # chemical -> disease
        types = {e.text.lower(): e.type for e in ex.extraction.entities}
        assert all(types[r.head.lower()] == "Drug" for r in ex.extraction.relations)
    _check_grounded(examples)


@pytest.mark.corpus
def test_bc5cdr_spot_checks(bc5cdr_result):
    by_doc = {e.doc_id: e for e in bc5cdr_result.examples}
    doc = by_doc["227508"]
    assert doc.id == "bc5cdr:227508" and doc.split == "train"
    assert doc.text.startswith("Naloxone reverses the antihypertensive effect of clonidine. In unanesthetized")
    assert doc.extraction.entities == (
        Entity("Naloxone", "Drug"), Entity("clonidine", "Drug"), Entity("hypertensive", "Disease"),
        Entity("nalozone", "Drug"), Entity("hypotensive", "Disease"), Entity("alpha-methyldopa", "Drug"),
        Entity("[3H]-naloxone", "Drug"), Entity("[3H]-dihydroergocryptine", "Drug"),
    )
    # CID D008750 -> D007022: alpha-methyldopa causes hypotensive (naloxone and clonidine have no CID relation).
    assert doc.extraction.relations == (Relation("alpha-methyldopa", "causes", "hypotensive"),)
    # Composite "hemorrhagic cystitis" (D006470|D003556): both CID relations become one.
    assert by_doc["2505783"].extraction.relations == (
        Relation("Chloroacetaldehyde", "causes", "hemorrhagic cystitis"),)
    assert by_doc["2505783"].split == "train"


def test_bc5cdr_needs_files(tmp_path):
    with pytest.raises(OdinError, match="BioCreative V CDR.*data.sources.bc5cdr.path"):
        bc5cdr.load(Bc5cdrSourceConfig(), None)
    with pytest.raises(OdinError, match="CDR_TrainingSet.PubTator.txt not found"):
        bc5cdr.load(Bc5cdrSourceConfig(path=str(tmp_path)), None)


def test_bc5cdr_unknown_types_name_the_line(tmp_path):
    for name in bc5cdr.FILES.values():
        (tmp_path / name).write_text("1|t|Aspirin.\n1|a|Pain.\n1\t0\t7\tAspirin\tChemical\tD001241\n\n")
    bad = tmp_path / bc5cdr.FILES["val"]
    bad.write_text("1|t|Aspirin.\n1|a|Pain.\n1\t9\t13\tPain\tSymptom\tD010146\n\n")
    hand_made = Bc5cdrSourceConfig(path=str(tmp_path), allow_modified=True)
    with pytest.raises(OdinError, match=rf"{bad}, line 3: entity type 'Symptom'"):
        bc5cdr.load(hand_made, None)
    bad.write_text("1|t|Aspirin.\n1|a|Pain.\n1\tTreats\tD001241\tD010146\n\n")
    with pytest.raises(OdinError, match=rf"{bad}, line 3: relation type 'Treats'"):
        bc5cdr.load(hand_made, None)


def test_bc5cdr_resolution_edge_cases():
    text = "Drug A and drug B caused rash and fever."
    lines = ["5|t|Drug A and drug B caused rash and fever.", "5|a|Rash again."]
    for s, etype, ids in [("Drug A and drug B", "Chemical", "C1|C2\tDrug A|drug B"), ("rash", "Disease", "D1"),
                          ("fever", "Disease", "-1"), ("Rash", "Disease", "D1")]:
        start = (text + " Rash again.").index(s, 1 if s == "Rash" else 0)
        lines.append(f"5\t{start}\t{start + len(s)}\t{s}\t{etype}\t{ids}")
    lines += ["5\tCID\tC1\tD1", "5\tCID\tC2\tD1", "5\tCID\tC3\tD1"]
    (doc,) = parse_pubtator("\n".join(lines) + "\n", "fixture", id_separator="|")
    dropped = Counter()
    ex = bc5cdr.document_example(doc, "train", dropped)
    # Both composite IDs resolve to the composite mention, so C1 and C2 give one relation; C3 is not in the text.
    assert ex.extraction.relations == (Relation("Drug A and drug B", "causes", "rash"),)
    assert [e.text for e in ex.extraction.entities] == ["Drug A and drug B", "rash", "fever"]
    assert dropped == {bc5cdr.DROP_DUPLICATE: 1, bc5cdr.DROP_UNMENTIONED: 1, bc5cdr.DROP_UNNORMALISED: 1}


def test_biored_resolution_edge_cases():
    text = "Gene G and aspirin/ibuprofen ease pain in mice."
    mentions = [("Gene G", "GeneOrGeneProduct", "G1"), ("aspirin/ibuprofen", "ChemicalEntity", "C1,C2"),
                ("pain", "DiseaseOrPhenotypicFeature", "D1"), ("mice", "OrganismTaxon", "10090")]
    lines = [f"9|t|{text}", "9|a|Pain stops."]
    for s, etype, ids in mentions:
        lines.append(f"9\t{text.index(s)}\t{text.index(s) + len(s)}\t{s}\t{etype}\t{ids}")
    lines += [
        "9\tNegative_Correlation\tD1\tC1\tNovel",  # disease first in the file: turned round
        "9\tAssociation\tG1\tD1\tNo",  # gene-disease
        "9\tDrug_Interaction\tC1\tC2\tNo",  # two concepts of one mention
        "9\tComparison\tC1\tC2\tNo",  # not in the relation map
        "9\tBind\tC1\tC9\tNo",  # C9 is not in the text
    ]
    (doc,) = parse_pubtator("\r\n".join(lines) + "\r\n\r\n", "fixture")
    dropped = Counter()
    ex = biored.document_example(doc, "val", biored._relation_map(BioredSourceConfig().relation_map), dropped)
    assert ex.extraction.entities == (Entity("aspirin/ibuprofen", "Drug"), Entity("pain", "Disease"))
    assert ex.extraction.relations == (Relation("aspirin/ibuprofen", "treats", "pain"),)
    assert dropped == {
        "BioRED entity type GeneOrGeneProduct": 1, "BioRED entity type OrganismTaxon": 1,
        biored.DROP_OTHER_TYPES: 1, biored.DROP_SAME_TEXT: 1, biored.DROP_UNMENTIONED: 1,
        "BioRED relation type Comparison (not in data.sources.biored.relation_map)": 1,
    }


# --------------------------------------------------------------------------------------------------------- BioRED


@pytest.fixture(scope="module")
def biored_result(raw_data):
    return biored.load(BioredSourceConfig(), str(raw_data))


BIORED_DROPPED = {
    biored.DROP_UNNORMALISED: 17 + 16 + 10,
    "BioRED entity type GeneOrGeneProduct": 4430 + 1087 + 1180,
    "BioRED entity type OrganismTaxon": 1429 + 370 + 393,
    "BioRED entity type SequenceVariant": 890 + 250 + 241,
    "BioRED entity type CellLine": 103 + 22 + 50,
    "BioRED relation type Comparison (not in data.sources.biored.relation_map)": 28 + 5 + 6,
    "BioRED relation type Conversion (not in data.sources.biored.relation_map)": 3 + 0 + 1,
    biored.DROP_OTHER_TYPES: 3058 + 840 + 880,
    biored.DROP_DUPLICATE: 21 + 6 + 5,
}


@pytest.mark.corpus
def test_biored_counts(biored_result):
    examples = biored_result.examples
    assert Counter(e.split for e in examples) == {"train": 400, "val": 100, "test": 100}
    assert len({e.doc_id for e in examples}) == 600 and _no_doc_in_two_splits(examples)
    relations = Counter()
    for e in examples:
        relations[e.split] += len(e.extraction.relations)
        relations.update(r.relation for r in e.extraction.relations)
    # 4,178 / 1,162 / 1,163 relations in the files = kept + the drops counted below, split by split.
    assert relations == {"train": 1068, "val": 311, "test": 271, "causes": 687, "treats": 601,
                         "associated_with": 348, "interacts_with": 14}
    assert 1068 + 28 + 3 + 3058 + 21 == 4178 and 311 + 5 + 840 + 6 == 1162 and 271 + 6 + 1 + 880 + 5 == 1163
    assert biored_result.dropped == BIORED_DROPPED
    _check_grounded(examples)
    for ex in examples:  # the Drug is the head whenever one side is a Drug
        types = {e.text.lower(): e.type for e in ex.extraction.entities}
        for r in ex.extraction.relations:
            assert "Drug" not in (types[r.head.lower()], types[r.tail.lower()]) or types[r.head.lower()] == "Drug"


@pytest.mark.corpus
def test_biored_pubtator_gives_the_same_examples(raw_data, biored_result):
    from_pubtator = biored.load(BioredSourceConfig(file_format="pubtator"), str(raw_data))
    assert from_pubtator.examples == biored_result.examples
    assert from_pubtator.dropped == biored_result.dropped


@pytest.mark.corpus
def test_biored_spot_checks(biored_result):
    by_doc = {e.doc_id: e for e in biored_result.examples}
    first = by_doc["10491763"]
    assert first.split == "train" and first.text.startswith("Hepatocyte nuclear factor-6: associations")
    # Genes are dropped; "Type II diabetes" later in the text is the same entity as "type II diabetes".
    assert first.extraction.entities == (
        Entity("type II diabetes", "Disease"), Entity("maturity-onset diabetes", "Disease"),
        Entity("Type II (non-insulin-dependent) diabetes mellitus", "Disease"), Entity("glucose", "Drug"),
        Entity("Type II diabetes mellitus", "Disease"), Entity("Type II diabetic", "Disease"),
    )
    # Association D005947 (glucose) - D003924 (first mention "type II diabetes"); the gene relations are dropped.
    assert first.extraction.relations == (Relation("glucose", "associated_with", "type II diabetes"),)
    # Dev 27103577: Negative_Correlation D000860 (hypoxia) -> D000255 (ATP) is turned round to put the Drug first;
    # the chemical-chemical Association keeps the file's order.
    doc = by_doc["27103577"]
    assert doc.split == "val"
    assert set(doc.extraction.relations) == {
        Relation("fatty acid", "associated_with", "ATP"),
        Relation("ATP", "treats", "hypoxia"),
        Relation("fatty acid", "treats", "hypoxia"),
    }


@pytest.mark.corpus
def test_biored_relation_map_comes_from_config(raw_data, make_cfg):
    cfg = make_cfg(["data=biored"]).data.sources.biored  # the composed DictConfig, as task=prepare passes it
    cfg.relation_map = {"Positive_Correlation": "causes"}
    result = biored.load(cfg, str(raw_data))
    assert {r.relation for e in result.examples for r in e.extraction.relations} == {"causes"}
    assert result.dropped["BioRED relation type Association (not in data.sources.biored.relation_map)"] > 0
    cfg.relation_map = {"Positive_Correlation": "induces"}
    with pytest.raises(OdinError, match="relation_map.Positive_Correlation='induces'"):
        biored.load(cfg, str(raw_data))


def test_biored_needs_files(tmp_path):
    with pytest.raises(OdinError, match="data.sources.biored.path"):
        biored.load(BioredSourceConfig(), None)
    with pytest.raises(OdinError, match=r"Train\.PubTator not found"):
        biored.load(BioredSourceConfig(path=str(tmp_path), file_format="pubtator"), None)


# ------------------------------------------------------------------------------------------------------ all three


@pytest.mark.corpus
def test_real_sources_load_fast_and_share_no_document_within_a_corpus(raw_data):
    start = time.perf_counter()
    results = [
        ade.load(AdeSourceConfig(negatives="all"), str(raw_data)),
        ade.load(AdeSourceConfig(path=str(raw_data / HF_RELATION_DIR)), None),
        bc5cdr.load(Bc5cdrSourceConfig(), str(raw_data)),
        biored.load(BioredSourceConfig(), str(raw_data)),
    ]
    elapsed = time.perf_counter() - start
    assert elapsed < 15, f"loading the corpora took {elapsed:.1f} s; `prepare data=mix` must stay under a minute"
    for result in results:
        assert len({e.id for e in result.examples}) == len(result.examples)
