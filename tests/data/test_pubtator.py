"""The PubTator reader: small inline documents for each trap and each error, then the real BC5CDR and BioRED files."""

from __future__ import annotations

from collections import Counter

import pytest

from odin.data.pubtator import parse_pubtator, read_pubtator
from odin.errors import OdinError

TITLE = "Naloxone reverses clonidine | effects."
ABSTRACT = "Ocular and auditory toxicity after nalozone and drug X."
TEXT = f"{TITLE} {ABSTRACT}"


def _span(s: str) -> str:
    start = TEXT.index(s)
    return f"{start}\t{start + len(s)}\t{s}"


BC5CDR_LIKE = "\n".join([
    f"1|t|{TITLE}",
    f"1|a|{ABSTRACT}",
    f"1\t{_span('Naloxone')}\tChemical\tD009270",
    f"1\t{_span('clonidine')}\tChemical\tD003000\t",  # trailing empty 7th column, as in CDR_TrainingSet
    f"1\t{_span('Ocular and auditory toxicity')}\tDisease\tD014786|D006311\tOcular toxicity|auditory toxicity",
    f"1\t{_span('nalozone')}\tChemical\t-1",
    "1\tCID\tD003000\tD006311",
    "",
    "2|t|Second.",
    "2|a|",
    "",
])


def test_bc5cdr_like_document():
    docs = parse_pubtator(BC5CDR_LIKE, "fixture.txt", id_separator="|")
    assert [d.pmid for d in docs] == ["1", "2"]
    doc = docs[0]
    assert doc.text == TEXT  # the title keeps its '|': only the PMID|t| prefix is split
    assert [m.text for m in doc.mentions] == ["Naloxone", "clonidine", "Ocular and auditory toxicity", "nalozone"]
    composite = doc.mentions[2]
    assert composite.ids == ("D014786", "D006311")
    assert composite.components == ("Ocular toxicity", "auditory toxicity")
    assert doc.mentions[1].ids == ("D003000",) and doc.mentions[1].components == ()
    assert doc.mentions[3].ids == ("-1",) and doc.mentions[3].concept_ids == ()
    assert [(r.type, r.id1, r.id2, r.novel) for r in doc.relations] == [("CID", "D003000", "D006311", None)]
    diseases = doc.first_mentions(["Disease"])
    assert diseases["D014786"] is composite and diseases["D006311"] is composite
    assert docs[1].text == "Second. " and docs[1].mentions == []


def test_biored_like_document_crlf_comma_ids_and_variant_ids():
    text = "Gene A, B and c.5382insC in cancer."
    lines = [
        f"7|t|{text}",
        "7|a|Aspirin helps.",
        "7\t0\t9\tGene A, B\tGeneOrGeneProduct\t3172,3651",
        "7\t14\t24\tc.5382insC\tSequenceVariant\tc|INS|5382|C",
        "7\t28\t34\tcancer\tDiseaseOrPhenotypicFeature\tD009369",
        "7\t36\t43\tAspirin\tChemicalEntity\tD001241",
        "7\tNegative_Correlation\tD001241\tD009369\tNovel",
        "7\tAssociation\tc|INS|5382|C\tD009369\tNo",
    ]
    docs = parse_pubtator("\r\n".join(lines) + "\r\n\r\n", "fixture.PubTator")
    (doc,) = docs
    assert doc.text == f"{text} Aspirin helps."
    assert [m.ids for m in doc.mentions] == [("3172", "3651"), ("c|INS|5382|C",), ("D009369",), ("D001241",)]
    assert [(r.type, r.id1, r.id2, r.novel) for r in doc.relations] == [
        ("Negative_Correlation", "D001241", "D009369", True),
        ("Association", "c|INS|5382|C", "D009369", False),
    ]
    first = doc.first_mentions(["GeneOrGeneProduct"])
    assert first["3172"].text == first["3651"].text == "Gene A, B"


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("1\t0\t8\tNaloxone\tChemical", "5 tab-separated columns"),  # wrong column count: the ID is missing
        ("1\tCID\tD009270", "3 tab-separated columns"),
        ("1\t1\t9\tNaloxone\tChemical\tD009270", "does not match its span 1-9"),  # offsets off by one
        ("1\tzero\t8\tNaloxone\tChemical\tD009270", "not integers"),
        ("1\t0\t999\tNaloxone\tChemical\tD009270", "outside the document text"),
        ("2\t0\t8\tNaloxone\tChemical\tD009270", "PMID 2 inside the document of PMID 1"),
        ("1\tAssociation\tD1\tD2\tMaybe", "novelty column"),
        ("just some text", "expected a 'PMID|t|title'"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "broken.PubTator"
    path.write_text(f"1|t|{TITLE}\n1|a|{ABSTRACT}\n{_span_line()}\n{bad_line}\n\n")
    with pytest.raises(OdinError, match=message) as err:
        read_pubtator(path)
    assert f"{path}, line 4" in str(err.value)


def _span_line() -> str:
    return f"1\t{_span('Naloxone')}\tChemical\tD009270"


def test_structure_errors_name_the_line(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text(f"1|t|{TITLE}\n{_span_line()}\n")
    with pytest.raises(OdinError, match=r"x\.txt, line 2: annotation line before"):
        read_pubtator(path)
    path.write_text(f"1|t|{TITLE}\n\n")
    with pytest.raises(OdinError, match=r"x\.txt, line 1: document 1 has a title line but no abstract"):
        read_pubtator(path)
    path.write_text(f"1|t|{TITLE}\n2|a|{ABSTRACT}\n")
    with pytest.raises(OdinError, match=r"line 2: abstract line for PMID 2 does not follow"):
        read_pubtator(path)
    with pytest.raises(OdinError, match="not found"):
        read_pubtator(tmp_path / "missing.txt")


# ------------------------------------------------------------------------------------------------ real corpora

BC5CDR_FILES = {"train": "CDR_TrainingSet", "val": "CDR_DevelopmentSet", "test": "CDR_TestSet"}


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("split", "chemical", "disease", "cid", "composite", "unnormalised"),
    [
        # Mention and relation counts as in the corpus statistics (raw data README). Composite mentions are the lines
        # with a non-empty 7th column: the README's 107 for Training also counts 18 lines ending in an empty 7th
        # column. Unnormalised: mentions with a -1 ID; Development's 60 includes one composite `D002544|-1`.
        ("train", 5203, 4182, 1038, 89, 76),
        ("val", 5347, 4244, 1012, 89, 60),
        ("test", 5385, 4424, 1066, 57, 91),
    ],
)
def test_bc5cdr_files(raw_data, split, chemical, disease, cid, composite, unnormalised):
    docs = read_pubtator(raw_data / "bc5cdr" / f"{BC5CDR_FILES[split]}.PubTator.txt", id_separator="|")
    assert len(docs) == 500 and len({d.pmid for d in docs}) == 500
    types = Counter(m.type for d in docs for m in d.mentions)
    assert types == {"Chemical": chemical, "Disease": disease}
    assert sum(len(d.relations) for d in docs) == cid
    assert {r.type for d in docs for r in d.relations} == {"CID"}
    assert sum(1 for d in docs for m in d.mentions if m.components) == composite
    assert sum(1 for d in docs for m in d.mentions if "-1" in m.ids) == unnormalised
    for d in docs:  # composites carry one ID per individual mention
        for m in d.mentions:
            assert not m.components or len(m.components) == len(m.ids)


@pytest.mark.corpus
def test_bc5cdr_spot_check_227508(raw_data):
    docs = read_pubtator(raw_data / "bc5cdr" / "CDR_TrainingSet.PubTator.txt", id_separator="|")
    doc = next(d for d in docs if d.pmid == "227508")
    assert doc.text.startswith("Naloxone reverses the antihypertensive effect of clonidine. In unanesthetized")
    assert [(m.start, m.end, m.text, m.type, m.ids) for m in doc.mentions[:5]] == [
        (0, 8, "Naloxone", "Chemical", ("D009270",)),
        (49, 58, "clonidine", "Chemical", ("D003000",)),
        (93, 105, "hypertensive", "Disease", ("D006973",)),
        (181, 190, "clonidine", "Chemical", ("D003000",)),
        (244, 252, "nalozone", "Chemical", ("-1",)),
    ]
    assert [(r.type, r.id1, r.id2) for r in doc.relations] == [("CID", "D008750", "D007022")]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("stem", "docs_n", "mentions", "relations", "novel"),
    [("Train", 400, 13351, 4178, 2838), ("Dev", 100, 3533, 1162, 835), ("Test", 100, 3535, 1163, 859)],
)
def test_biored_pubtator_files(raw_data, stem, docs_n, mentions, relations, novel):
    docs = read_pubtator(raw_data / "biored" / f"{stem}.PubTator")
    assert len(docs) == docs_n and len({d.pmid for d in docs}) == docs_n
    assert sum(len(d.mentions) for d in docs) == mentions
    assert sum(len(d.relations) for d in docs) == relations
    assert sum(1 for d in docs for r in d.relations if r.novel) == novel
    assert all("\r" not in d.text for d in docs)
    if stem == "Train":
        assert Counter(m.type for d in docs for m in d.mentions) == {
            "GeneOrGeneProduct": 4430, "DiseaseOrPhenotypicFeature": 3646, "ChemicalEntity": 2853,
            "OrganismTaxon": 1429, "SequenceVariant": 890, "CellLine": 103,
        }
        assert sum(1 for d in docs for m in d.mentions if len(m.ids) > 1) == 367  # comma-joined IDs
        doc = next(d for d in docs if d.pmid == "10788334")
        variant = next(m for m in doc.mentions if m.text == "5382insC")
        assert variant.type == "SequenceVariant" and variant.ids == ("c|INS|5382|C",)
        cancer = next(m for m in doc.mentions if m.text == "breast or ovarian cancer")
        assert cancer.ids == ("D001943", "D010051")
