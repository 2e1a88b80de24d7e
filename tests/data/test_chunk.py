"""Long inputs: sentence splitting that respects mentions, window packing, what chunks keep and what they lose."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odin.data.chunk import fit_to_length, sentence_spans
from odin.data.example import Example
from odin.errors import OdinError
from odin.extraction import Entity, Extraction, Relation


def words(texts):
    """A token counter that needs no tokenizer: one token per whitespace-separated word."""
    return [len(t.split()) for t in texts]


def example(text, entities=(), relations=(), id="src:1", doc_id="1"):
    return Example(id=id, doc_id=doc_id, text=text, extraction=Extraction.of(entities, relations), source="src",
                   split="train")


def test_sentence_spans_split_on_sentence_ends_but_not_abbreviations():
    text = "Aspirin was given, e.g. for pain. Fever resolved (Fig. 2). 3 patients had rash! Why? Dr. Smith saw them."
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == ["Aspirin was given, e.g. for pain.", "Fever resolved (Fig. 2).", "3 patients had rash!",
                         "Why?", "Dr. Smith saw them."]


def test_sentence_spans_never_cut_a_mention():
    text = "Patients took compound AB. C for a week. Then they stopped."
    assert [text[s:e] for s, e in sentence_spans(text)] == ["Patients took compound AB.", "C for a week.",
                                                            "Then they stopped."]
    kept = [text[s:e] for s, e in sentence_spans(text, ["compound AB. C"])]
    assert kept == ["Patients took compound AB. C for a week.", "Then they stopped."]


def test_short_inputs_pass_unchanged():
    ex = example("Aspirin caused rash.", [Entity("Aspirin", "Drug"), Entity("rash", "Symptom")])
    out, report = fit_to_length([ex], 10, "chunk", words)
    assert out == [ex] and not report


def test_chunks_keep_their_entities_and_relations_and_count_the_lost_ones():
    text = ("Warfarin was started for atrial fibrillation. The patient was well for a long time after that. "
            "Then epistaxis occurred on warfarin. Later the patient reported gastrointestinal bleeding.")
    ents = [Entity("Warfarin", "Drug"), Entity("atrial fibrillation", "Disease"), Entity("epistaxis", "Symptom"),
            Entity("gastrointestinal bleeding", "Symptom")]
    rels = [Relation("Warfarin", "treats", "atrial fibrillation"), Relation("warfarin", "causes", "epistaxis"),
            Relation("Warfarin", "causes", "gastrointestinal bleeding"),
            Relation("epistaxis", "associated_with", "atrial fibrillation")]
    ex = example(text, ents, rels, id="src:9", doc_id="9")
    out, report = fit_to_length([ex], 17, "chunk", words)  # sentences of 6, 10, 5 and 6 words
    assert [c.id for c in out] == ["src:9#chunk1", "src:9#chunk2"]
    assert {c.doc_id for c in out} == {"9"} and {c.split for c in out} == {"train"}
    first, second = out
    assert first.text == ("Warfarin was started for atrial fibrillation. "
                          "The patient was well for a long time after that.")
    assert first.extraction == Extraction.of(ents[:2], rels[:1])
    # The entity list holds "Warfarin" once (one entry per case-insensitive key); the second window writes it
    # "warfarin", and the chunk names it that way so that every entity string occurs in the chunk's text.
    assert second.extraction == Extraction.of(
        [Entity("warfarin", "Drug"), Entity("epistaxis", "Symptom"), Entity("gastrointestinal bleeding", "Symptom")],
        [Relation("warfarin", "causes", "epistaxis"), Relation("warfarin", "causes", "gastrointestinal bleeding")],
    )
    assert report == {"relation lost in chunking (head and tail in different chunks)": 1}


def test_drop_mode_counts_the_dropped_inputs():
    long = example("One two three four five six. Seven eight nine ten.", id="a")
    short = example("Short one.", id="b")
    out, report = fit_to_length([long, short], 5, "drop", words)
    assert out == [short]
    assert report == {"input over max_tokens=5 (long_inputs=drop)": 1}


def test_a_single_sentence_over_the_limit_is_dropped_with_a_reason():
    ex = example("Tiny start. " + "Long " * 20 + "end. Tiny tail.", [Entity("Tiny", "Drug")])
    out, report = fit_to_length([ex], 5, "chunk", words)
    assert [c.text for c in out] == ["Tiny start.", "Tiny tail."]
    assert report["sentence over max_tokens=5: dropped from its chunked document"] == 1


def test_entities_only_in_a_dropped_sentence_are_counted_as_lost():
    long = "Later warfarin and heparin caused rash and " + "very " * 12 + "severe bleeding with Aspirin."
    text = f"Aspirin was given. {long} Aspirin was stopped. Fever went down."
    ents = [Entity("Aspirin", "Drug"), Entity("warfarin", "Drug"), Entity("heparin", "Drug"),
            Entity("rash", "Symptom"), Entity("Fever", "Symptom")]
    rels = [Relation("warfarin", "causes", "rash"), Relation("Aspirin", "treats", "Fever"),
            Relation("heparin", "interacts_with", "Aspirin")]
    out, report = fit_to_length([example(text, ents, rels)], 8, "chunk", words)
    assert [c.text for c in out] == ["Aspirin was given.", "Aspirin was stopped. Fever went down."]
    # warfarin, heparin and rash occur only in the dropped 22-word sentence; Aspirin occurs outside it too.
    assert report == {
        "sentence over max_tokens=8: dropped from its chunked document": 1,
        "entity lost in chunking (in a dropped over-long sentence)": 3,
        "relation lost in chunking (head and tail in different chunks)": 2,
    }


def test_bad_settings_are_user_errors():
    with pytest.raises(OdinError, match="max_tokens"):
        fit_to_length([], 0, "chunk", words)
    with pytest.raises(OdinError, match="long_inputs"):
        fit_to_length([], 10, "truncate", words)


NAMES = ["aspirin", "Aspirin", "warfarin", "rash", "nausea", "Fever", "heart failure", "Dr. Who syndrome", "IL-6"]
FILLER = ["was", "seen", "in", "the", "clinic", "with", "and", "after", "A", "The"]


@st.composite
def documents(draw):
    sentences, entities = [], []
    for _ in range(draw(st.integers(1, 12))):
        words_ = draw(st.lists(st.sampled_from(FILLER + NAMES), min_size=1, max_size=14))
        entities += [w for w in words_ if w in NAMES]
        sentences.append(" ".join(words_) + draw(st.sampled_from([".", "!", "?", ";"])))
    text = " ".join(s[0].upper() + s[1:] for s in sentences)
    ents = [Entity(n, "Drug") for n in dict.fromkeys(entities) if n in text]
    names = [e.text for e in ents]
    rels = [Relation(h, "causes", t) for h, t in draw(st.lists(st.tuples(st.sampled_from(names or ["x"]),
                                                                          st.sampled_from(names or ["y"]))))
            if h in names and t in names and h != t]
    return example(text, ents, rels)


@settings(max_examples=200, deadline=None)
@given(doc=documents(), max_tokens=st.integers(3, 40))
def test_chunks_only_hold_what_their_text_supports(doc, max_tokens):
    out, report = fit_to_length([doc], max_tokens, "chunk", words)
    for chunk in out:
        assert chunk.doc_id == doc.doc_id
        assert chunk.id == doc.id or chunk.id.startswith(doc.id + "#chunk")
        assert len(chunk.text.split()) <= max_tokens
        assert chunk.text in doc.text
        for e in chunk.extraction.entities:
            assert e.text in chunk.text
        keys = {e.text.lower() for e in chunk.extraction.entities}
        for r in chunk.extraction.relations:
            assert r.head in chunk.text and r.tail in chunk.text
            assert r.head.lower() in keys and r.tail.lower() in keys
    if len(out) > 1:
        assert [c.id for c in out] == [f"{doc.id}#chunk{k}" for k in range(1, len(out) + 1)]
        # Windows come in text order and never overlap.
        end = 0
        for c in out:
            end = doc.text.index(c.text, end) + len(c.text)
    kept = {r.key() for c in out for r in c.extraction.relations}
    lost = sum(r.key() not in kept for r in doc.extraction.relations)
    assert lost == report.get("relation lost in chunking (head and tail in different chunks)", 0)
