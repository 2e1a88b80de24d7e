"""The output format: render/parse round trip, robustness on any string, and the one prompt template."""

from hypothesis import given, settings
from hypothesis import strategies as st

from odin.extraction import ENTITY_TYPES, RELATION_TYPES, Entity, Extraction, Relation
from odin.format import (
    INSTRUCTION, POSTPROCESS_LEVERS, FoldedText, build_prompt, find_spans, fold_text, is_grounded, levers_from, parse,
    read_answer, render, split_prompt, to_record,
)

EXAMPLE = """### Entities:
1. [Drug] enalapril
2. [Symptom] acute renal failure

### Relations:
1. enalapril --[causes]--> acute renal failure"""


def test_render_matches_the_documented_format():
    x = Extraction.of([Entity("enalapril", "Drug"), Entity("acute renal failure", "Symptom")],
                      [Relation("enalapril", "causes", "acute renal failure")])
    assert render(x.entities, x.relations) == EXAMPLE


def test_render_empty_sections_say_none_found():
    assert render([], []) == "### Entities:\nNone found.\n\n### Relations:\nNone found."
    assert parse(render([], [])).extraction == Extraction()
    assert parse(render([], [])).ok


def test_parse_reads_the_documented_example():
    result = parse(EXAMPLE)
    assert result.ok
    assert result.entities == (Entity("enalapril", "Drug"), Entity("acute renal failure", "Symptom"))
    assert result.relations == (Relation("enalapril", "causes", "acute renal failure"),)


def test_parse_keeps_what_it_can_from_truncated_output():
    truncated = EXAMPLE.replace("\n\n### Relations:\n1. enalapril --[causes]--> acute renal failure", "\n3. [Dru")
    result = parse(truncated)
    assert result.entities == (Entity("enalapril", "Drug"), Entity("acute renal failure", "Symptom"))
    assert len(result.errors) == 1 and "[Dru" in result.errors[0]


def test_parse_dedupes_case_insensitively_and_normalises_types():
    text = "### Entities:\n1. [drug] Aspirin\n2. [Drug] aspirin\n3. [SYMPTOM] rash\n\n### Relations:\n" \
           "1. Aspirin --[Causes]--> rash\n2. aspirin --[causes]--> Rash\n3. aspirin --[associated with]--> rash"
    result = parse(text)
    assert result.entities == (Entity("Aspirin", "Drug"), Entity("rash", "Symptom"))
    assert result.relations == (Relation("Aspirin", "causes", "rash"), Relation("aspirin", "associated_with", "rash"))
    assert result.ok


def test_parse_reports_unknown_types_and_junk():
    text = "### Entities:\n1. [Gene] BRCA1\n2. [Drug] tamoxifen\nsome chatter\n\n### Relations:\n" \
           "1. tamoxifen --[inhibits]--> BRCA1"
    result = parse(text)
    assert result.entities == (Entity("tamoxifen", "Drug"),)
    assert result.relations == ()
    assert len(result.errors) == 3
    assert any("Gene" in e for e in result.errors) and any("inhibits" in e for e in result.errors)


def test_parse_stops_when_the_model_runs_on_into_a_new_prompt():
    result = parse(EXAMPLE + "\n\n### Input:\n1. [Drug] not-an-answer")
    assert [e.text for e in result.entities] == ["enalapril", "acute renal failure"]
    assert result.ok


def test_parse_without_headers_still_reads_lines():
    result = parse("1. [Drug] aspirin\n2. aspirin --[treats]--> headache")
    assert result.entities == (Entity("aspirin", "Drug"),)
    assert result.relations == (Relation("aspirin", "treats", "headache"),)


# Entity strings as they occur in clinical text: words, digits, common punctuation; no line breaks or brackets.
_words = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="-/,'+()%"),
                 min_size=1, max_size=12)
_mention = st.lists(_words, min_size=1, max_size=4).map(" ".join).filter(lambda s: s.lower() != "none found.")
_entity = st.builds(Entity, _mention, st.sampled_from(ENTITY_TYPES))
_relation = st.builds(Relation, _mention, st.sampled_from(RELATION_TYPES), _mention)


@given(st.lists(_entity, max_size=8), st.lists(_relation, max_size=8))
@settings(max_examples=300, deadline=None)
def test_render_parse_round_trip(entities, relations):
    x = Extraction.of(entities, relations)
    result = parse(render(x.entities, x.relations))
    assert result.ok, result.errors
    assert result.extraction == x


@given(st.text())
@settings(max_examples=500, deadline=None)
def test_parse_never_raises_on_any_string(text):
    result = parse(text)
    assert isinstance(result.extraction, Extraction)


@given(st.lists(st.sampled_from(["### Entities:", "### Relations:", "1. [Drug] a", "a --[causes]--> b", "", "[",
                                 "--[", "]-->", "None found.", "### ", "2. [Symptom]", "x --[treats]-->"]), max_size=20))
@settings(max_examples=300, deadline=None)
def test_parse_never_raises_on_format_like_fragments(lines):
    parse("\n".join(lines))


def test_prompt_template_is_shared_and_record_round_trips():
    x = Extraction.of([Entity("aspirin", "Drug")], [])
    rec = to_record("Aspirin was given.", x)
    assert rec["instruction"] == INSTRUCTION
    assert parse(rec["output"]).extraction == x
    prompt = build_prompt(rec["input"], rec["instruction"])
    assert prompt.startswith("### Instruction:\n") and prompt.endswith("### Response:\n")
    assert "Aspirin was given." in prompt


# --- the prompt, inverted ---------------------------------------------------------------------------------------------


@given(st.text(), st.text().filter(lambda s: "\n\n### Input:\n" not in s))
@settings(max_examples=200, deadline=None)
def test_split_prompt_inverts_build_prompt(text, instruction):
    assert split_prompt(build_prompt(text, instruction)) == (instruction, text)


def test_split_prompt_refuses_other_strings():
    import pytest

    with pytest.raises(ValueError, match="not a prompt built by"):
        split_prompt("### Input:\nx")


def test_lines_end_at_newlines_only():
    result = parse("### Entities:\r\n1. [Drug] aspirin\r\n2. [Symptom] rash\u2028itch\n")
    assert result.entities == (Entity("aspirin", "Drug"), Entity("rash\u2028itch", "Symptom"))


# --- the fold and the grounding check ---------------------------------------------------------------------------------


def test_fold_is_the_scoring_fold():
    assert fold_text("  Acute\n\tRenal   FAILURE ") == "acute renal failure"
    assert Entity("Acute  Renal failure", "Symptom").key() == (fold_text("acute renal failure"), "Symptom")
    assert fold_text("ΟΔΟΣ") == "οδοσ"  # character by character: no final-sigma context rule


@given(st.text(alphabet=st.characters(max_codepoint=127)) | st.text())
@settings(max_examples=300, deadline=None)
def test_the_fold_lowers_character_by_character(text):
    # fold_text's fast path for ASCII must fold as the character-by-character rule does
    assert fold_text(text) == "".join(map(str.lower, " ".join(text.split())))


@given(st.text(), st.integers(0, 60))
@settings(max_examples=300, deadline=None)
def test_the_fold_of_a_prefix_is_a_prefix_of_the_fold(text, cut):
    # What grounded decoding relies on to check an entity's text while it grows.
    assert fold_text(text).startswith(fold_text(text[:cut]))


@given(st.text(max_size=60), st.integers(0, 60), st.integers(1, 15))
@settings(max_examples=400, deadline=None)
def test_spans_are_where_the_grounding_check_finds_an_entity(text, start, length):
    needle = text[start:start + length]
    source = FoldedText(text)
    spans = source.spans(needle)
    assert bool(spans) == (is_grounded(needle, text) and bool(fold_text(needle)))
    assert bool(spans) == bool(find_spans(needle, text))
    for a, b in spans:
        assert fold_text(text[a:b]) == fold_text(needle)


def test_spans_ignoring_spaces_find_a_name_written_without_them():
    source = FoldedText("Factor F VIII  was low")
    a, b = source.span_ignoring_spaces("FVIII")
    assert source.text[a:b] == "F VIII"
    assert source.span_ignoring_spaces("F IX") is None


# --- post-processing ---------------------------------------------------------------------------------------------------

NOTE = "Treatment with F VIII; Enalapril caused acute  renal failure and a rash."
MESSY = ("### Entities:\n1. [Drug] FVIII\n2. [Drug] enalapril\n3. [Disease] Enalapril\n4. [Symptom] ACUTE renal failure\n"
         "\n### Relations:\n1. enalapril --[causes]--> acute renal failure\n2. acute renal failure --[associated with]--> "
         "enalapril\n3. FVIII --[treats]--> hemophilia\n4. Enalapril --[causes]--> rash")


def test_with_no_lever_on_an_answer_is_read_as_parsed():
    assert read_answer(MESSY, NOTE) == parse(MESSY)
    assert read_answer(MESSY, NOTE, **dict.fromkeys(POSTPROCESS_LEVERS, False)) == parse(MESSY)


def test_snap_to_text_writes_entities_as_the_input_does():
    x = read_answer(MESSY, NOTE, snap_to_text=True).extraction
    assert [e.text for e in x.entities] == ["F VIII", "Enalapril", "Enalapril", "acute renal failure"]
    assert Relation("F VIII", "treats", "hemophilia") in x.relations  # the relation end follows its entity


def test_dedupe_keeps_one_type_per_text_and_one_relation_per_pair():
    x = read_answer(MESSY, NOTE, dedupe=True).extraction
    assert [e.type for e in x.entities] == ["Drug", "Drug", "Symptom"]  # enalapril's first type wins
    assert [r.relation for r in x.relations] == ["causes", "treats", "causes"]  # the reverse pair is dropped


def test_drop_unlisted_relations():
    x = read_answer(MESSY, NOTE, drop_unlisted_relations=True).extraction
    assert all(r.tail not in ("hemophilia", "rash") for r in x.relations) and len(x.relations) == 2


def test_levers_come_from_the_config():
    from conftest import compose_cfg

    cfg = compose_cfg(["generation.postprocess.dedupe=true"])
    assert levers_from(cfg.generation.postprocess) == {"snap_to_text": False, "dedupe": True,
                                                       "drop_unlisted_relations": False}
