"""The BioC JSON reader: inline collections for structure and errors, then BioRED's JSON against its PubTator files."""

from __future__ import annotations

import json

import pytest

from odin.data.bioc import read_bioc_json
from odin.data.pubtator import read_pubtator
from odin.errors import OdinError

TITLE = "Aspirin and headache."
ABSTRACT = "We gave aspirin (ASA) for migraine."


def _collection(annotation_text: str = "aspirin", locations=None) -> dict:
    start = len(TITLE) + 1 + ABSTRACT.index("aspirin")
    locations = locations or [{"offset": start, "length": 7}]
    return {
        "source": "test",
        "documents": [{
            "id": "42",
            "passages": [
                # Listed out of order on purpose: the reader places passages by their offsets.
                {"offset": len(TITLE) + 1, "text": ABSTRACT, "annotations": [
                    {"id": "2", "infons": {"identifier": "D001241", "type": "ChemicalEntity"},
                     "text": annotation_text, "locations": locations},
                    {"id": "3", "infons": {"identifier": "D008881, D006261", "type": "DiseaseOrPhenotypicFeature"},
                     "text": "migraine", "locations": [{"offset": len(TITLE) + 1 + ABSTRACT.index("migraine"),
                                                         "length": 8}]},
                ]},
                {"offset": 0, "text": TITLE, "annotations": [
                    {"id": "0", "infons": {"identifier": "D001241", "type": "ChemicalEntity"}, "text": "Aspirin",
                     "locations": [{"offset": 0, "length": 7}]},
                ]},
            ],
            "relations": [{"id": "R0", "infons": {"entity1": "D001241", "entity2": "D008881",
                                                  "type": "Negative_Correlation", "novel": "Novel"}}],
        }],
    }


def test_reads_document(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_collection()))
    (doc,) = read_bioc_json(path)
    assert doc.pmid == "42" and doc.text == f"{TITLE} {ABSTRACT}"
    assert [(m.text, m.type, m.ids) for m in doc.mentions] == [
        ("Aspirin", "ChemicalEntity", ("D001241",)),
        ("aspirin", "ChemicalEntity", ("D001241",)),
        ("migraine", "DiseaseOrPhenotypicFeature", ("D008881", "D006261")),
    ]
    assert [(r.type, r.id1, r.id2, r.novel) for r in doc.relations] == [
        ("Negative_Correlation", "D001241", "D008881", True)
    ]
    assert doc.first_mentions(["ChemicalEntity"])["D001241"].start == 0


def test_bad_span_names_file_document_and_annotation(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_collection(annotation_text="Aspirin")))
    with pytest.raises(OdinError, match=r"c\.json, document 42, annotation 2: annotation text 'Aspirin' does not"):
        read_bioc_json(path)


def test_structural_errors(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_collection(locations=[{"offset": 0, "length": 3}, {"offset": 5, "length": 2}])))
    with pytest.raises(OdinError, match="annotation 2: 2 locations"):
        read_bioc_json(path)
    broken = _collection()
    del broken["documents"][0]["passages"][0]["annotations"][0]["locations"]
    path.write_text(json.dumps(broken))
    with pytest.raises(OdinError, match="document 42: malformed BioC document"):
        read_bioc_json(path)
    path.write_text('{"documents": [\n{"id": 1,\n oops}]}')
    with pytest.raises(OdinError, match=r"c\.json, line 3: not valid JSON"):
        read_bioc_json(path)
    path.write_text("[]")
    with pytest.raises(OdinError, match="not a BioC JSON collection"):
        read_bioc_json(path)


@pytest.mark.corpus
@pytest.mark.parametrize("stem", ["Train", "Dev", "Test"])
def test_biored_json_matches_pubtator(raw_data, stem):
    json_docs = read_bioc_json(raw_data / "biored" / f"{stem}.BioC.JSON")
    pubtator_docs = read_pubtator(raw_data / "biored" / f"{stem}.PubTator")

    def content(d):
        return (d.pmid, d.text, [(m.start, m.end, m.text, m.type, m.ids) for m in d.mentions],
                [(r.type, r.id1, r.id2, r.novel) for r in d.relations])

    assert len(json_docs) == {"Train": 400, "Dev": 100, "Test": 100}[stem]
    assert [content(d) for d in json_docs] == [content(d) for d in pubtator_docs]
