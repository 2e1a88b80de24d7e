"""The output format: render/parse round trip, robustness on any string, and the one prompt template."""

from hypothesis import given, settings
from hypothesis import strategies as st

from odin.extraction import ENTITY_TYPES, RELATION_TYPES, Entity, Extraction, Relation
from odin.format import INSTRUCTION, build_prompt, parse, render, to_record

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
