"""Grounded decoding: the constraint on text, on hand-built token streams, and in generation with real tiny models."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from odin.extraction import ENTITY_TYPES, RELATION_TYPES, Entity, Relation
from odin.format import FoldedText, build_prompt, fold_text, parse, render
from odin.grounding import RELATION_ENDS, GroundedAnswer, TokenText, drop_open_line, grounded_processor
from steered_model import steered

SOURCE = "Enalapril was stopped after ACUTE\nrenal  failure; no rash."
LISTED = "### Entities:\n1. [Drug] enalapril\n2. [Symptom] acute renal failure\n\n### Relations:\n"


def answer_after(text: str, source: str = SOURCE, relations: str = "listed") -> GroundedAnswer:
    state = GroundedAnswer(source, relations)
    state.advance(text)
    return state


def assert_grounded(answer: str, source: str, relations: str = "listed") -> tuple[int, int]:
    """Every entity `parse` reads is in the source (as the metric checks), every relation joins listed entities
    (`relations="listed"`) or spans of the source ("input")."""
    parsed = parse(answer)
    folded = FoldedText(source)
    for e in parsed.entities:
        assert folded.contains(e.text), (e, source, answer)
    listed = {fold_text(e.text) for e in parsed.entities}
    for r in parsed.relations:
        if relations == "input":
            assert all(fold_text(end) and folded.contains(end) for end in (r.head, r.tail)), (r, source, answer)
        else:
            assert fold_text(r.head) in listed and fold_text(r.tail) in listed, (r, answer)
    return len(parsed.entities), len(parsed.relations)


# --- the constraint on text ------------------------------------------------------------------------------------------


def test_entity_text_grows_only_as_a_span_of_the_input():
    state = answer_after("### Entities:\n")
    for ok in ("1. [Drug] E", "1. [Drug] enalapril", "1. [Drug] enalapril ", "1. [Drug] enalapril was",
               "1. [Drug] enalapril\n", "1. [Drug] enalapril\n2. [Symptom] no r"):
        assert state.accepts(ok), ok
    for bad in ("1. [Drug] enalaprilat", "1. [Drug] aspirin", "1. [Drug] enalapril\n2. [Symptom] cough",
                "1. [Drug] enalaprilx\n"):
        assert not state.accepts(bad), bad


def test_case_and_whitespace_fold_as_the_metric_folds():
    state = answer_after("### Entities:\n")
    # The input writes "ACUTE\nrenal  failure": any case, any run of whitespace matches.
    assert state.accepts("1. [Symptom] Acute Renal\tFailure")
    assert state.accepts("1. [Symptom]   acute   renal failure  ")
    assert not state.accepts("1. [Symptom] acute renalfailure")
    assert FoldedText(SOURCE).contains("Acute Renal\tFailure")  # what the grounding rate counts agrees


def test_relation_ends_can_only_name_listed_entities():
    state = answer_after(LISTED)
    for ok in ("1", "1. ", "1. Enal", "1. enalapril --[causes]--> ac", "1. ENALAPRIL --[causes]--> acute  renal",
               "1. enalapril --[causes]--> acute renal failure\n", "None found.", "### Input:", ""):
        assert state.accepts(ok), ok
    for bad in ("1. aspirin", "1. enalapril --[causes]--> rash", "1. enalapril --[causes]--> acute\n",
                "1. enalapril --[causes]--> acute renal failure and more", "some chatter"):
        assert not state.accepts(bad), bad
    state.advance("1. enalapril --[causes]--> acute ren")
    assert not state.may_end()  # a tail that is only the start of an entity's name cannot end the answer
    state.advance("1. enalapril --[causes]--> acute renal failure")
    assert state.may_end()


def test_a_relation_line_closes_only_once_it_joins_listed_entities():
    # The GPU run's failure: the model listed the effects but not the drug, then could not write the drug as a head;
    # a newline after "1. " was allowed as an unreadable line, and it looped "1. \n2. \n..." to max_new_tokens.
    state = answer_after("### Entities:\n1. [Symptom] acute renal failure\n\n### Relations:\n")
    for bad in ("1. \n", "1.\n", "1. acute renal failure --[causes]-->\n", "1. acute renal failure --[foo]--> acute "
                "renal failure\n"):
        assert not state.accepts(bad), bad
    assert state.accepts("1. acute renal failure --[causes]--> acute renal failure\n") and state.accepts("\n")
    state.advance("1. ")
    assert not state.may_end()  # nor may the answer end on it
    assert drop_open_line(LISTED + "1. ", SOURCE) == LISTED.rstrip()


def test_relations_section_without_entities_allows_only_none_found_or_a_header():
    state = answer_after("### Entities:\nNone found.\n\n### Relations:\n")
    assert state.accepts("None found.") and state.accepts("### Input:") and state.accepts("")
    assert not state.accepts("1") and not state.accepts("enalapril")


def test_lines_parse_does_not_score_are_left_alone():
    state = answer_after("### Entities:\n")
    assert state.accepts("1. [Gene] anything at all\n")  # an unknown type is a parse error, not an entity
    assert state.accepts("chatter\n")
    free = answer_after("### Entities:\n1. [Drug] enalapril\n### Input:\n")  # parse reads nothing after this
    assert free.accepts("1. [Drug] aspirin\n2. x --[causes]--> y")


def test_before_any_header_both_shapes_are_read_and_held_to_the_same_rule():
    state = answer_after("1. [Drug] enalapril\n2. [Symptom] rash\n")
    assert state.accepts("3. enalapril --[causes]--> ra")
    assert not state.accepts("3. enalapril --[causes]--> cough")
    assert not state.accepts("3. [Drug] aspirin")


def test_a_line_cut_where_it_could_not_end_is_dropped():
    cut = LISTED + "1. enalapril --[causes]--> acute ren"
    assert drop_open_line(cut, SOURCE) == LISTED.rstrip()
    whole = LISTED + "1. enalapril --[causes]--> acute renal failure"
    assert drop_open_line(whole, SOURCE) == whole


# The GPU run's case for input mode: the model listed the effects but not the drug, then wrote the drug as a head.
QT = "Torsades de pointes and QT prolongation on amiodarone."
QT_LISTED = "### Entities:\n1. [Symptom] torsades de pointes\n\n### Relations:\n"
QT_RELATION = "1. amiodarone --[causes]--> QT prolongation"


@pytest.mark.parametrize("before", [QT_LISTED, ""], ids=["relations_section", "before_any_header"])
def test_input_mode_lets_a_relation_join_spans_of_the_input_that_are_not_listed(before):
    state, listed = answer_after(before, QT, "input"), answer_after(before, QT)
    for ok in ("1. amio", "1. amiodarone --[", "1. amiodarone --[causes]--> QT pro", QT_RELATION + "\n"):
        assert state.accepts(ok), ok
    for line in ("1. amiodarone --[causes]--> QT pro", QT_RELATION + "\n"):
        assert not listed.accepts(line), line  # the same line, listed mode: neither end is a listed entity
    state.advance(QT_RELATION)
    assert state.may_end()


def test_input_mode_refuses_a_relation_end_that_is_not_in_the_input():
    state = answer_after(QT_LISTED, QT, "input")
    for ok in ("None found.", "### Input:", "", "1", "1. ", "1. amiodarone --[causes]--> torsades de pointes\n"):
        assert state.accepts(ok), ok
    for bad in ("1. aspirin", "1. amiodarone --[causes]--> rash", "1. aspirin --[causes]--> QT prolongation\n",
                "1. amiodarone --[causes]-->\n", "1. \n", "some chatter"):
        assert not state.accepts(bad), bad
    state.advance("1. amiodarone --[causes]--> rash")
    assert not state.may_end()


def test_input_mode_reads_a_head_that_holds_a_hyphen_whole():
    state = answer_after("### Entities:\nNone found.\n\n### Relations:\n", "IFN-beta caused depression.", "input")
    for ok in ("1. IFN-", "1. IFN-beta", "1. IFN-beta --", "1. IFN-beta --[causes]--> depr",
               "1. IFN-beta --[causes]--> depression\n"):
        assert state.accepts(ok), ok
    for bad in ("1. IFN-gamma", "1. IFN-beta --[causes]--> depression and more", "1. IFN-beta--\n"):
        assert not state.accepts(bad), bad


def test_drop_open_line_follows_the_mode():
    cut = QT_LISTED + QT_RELATION
    assert drop_open_line(cut, QT, "input") == cut
    assert drop_open_line(cut, QT) == QT_LISTED.rstrip()
    assert drop_open_line(QT_LISTED + "1. amiodarone --[causes]-->", QT, "input") == QT_LISTED.rstrip()


def test_an_unknown_mode_fails_loudly_and_the_config_offers_the_modes_there_are():
    from odin.schema import GroundedRelations

    with pytest.raises(ValueError, match="listed, input"):
        GroundedAnswer(SOURCE, "inputs")
    assert [m.value for m in GroundedRelations] == list(RELATION_ENDS)


_source = st.one_of(st.sampled_from([SOURCE, "Rash after amoxicillin for pneumonia.", "Sjögren syndrome and MTX"]),
                    st.text(max_size=40))
_fragments = ["### Entities:\n", "### Relations:\n", "\n", "\n\n", "1. [Drug] ", "2. [Symptom] ", "[Disease] ",
              " --[causes]--> ", "--[treats]-->", "None found.", "### Input:\n", "[Gene] ", " ", "-", "1. ", "x"]


@settings(max_examples=400, deadline=None)
@given(_source, st.data())
def test_any_stream_of_text_the_constraint_accepts_parses_grounded(source, data):
    """Whatever a model proposes, piece by piece: what the constraint lets through is grounded when parsed."""
    pieces = st.one_of(st.sampled_from(_fragments), st.text(max_size=4),
                       st.builds(lambda a, n: source[a:a + n], st.integers(0, 40), st.integers(1, 12)))
    state, answer = GroundedAnswer(source), ""
    for piece in data.draw(st.lists(pieces, max_size=60)):
        candidate = state.line + piece
        if state.accepts(candidate):
            state.advance(candidate)
            answer += piece
    closed = answer[: answer.rfind("\n") + 1]
    assert_grounded(closed, source)  # every closed line, as the constraint let it through
    assert_grounded(drop_open_line(answer, source), source)  # and the answer as generation returns it


@settings(max_examples=400, deadline=None)
@given(_source, st.data())
def test_in_input_mode_any_stream_the_constraint_accepts_has_every_relation_end_in_the_input(source, data):
    pieces = st.one_of(st.sampled_from(_fragments), st.text(max_size=4),
                       st.builds(lambda a, n: source[a:a + n], st.integers(0, 40), st.integers(1, 12)))
    state, answer = GroundedAnswer(source, "input"), ""
    for piece in data.draw(st.lists(pieces, max_size=60)):
        candidate = state.line + piece
        if state.accepts(candidate):
            state.advance(candidate)
            answer += piece
    assert_grounded(answer[: answer.rfind("\n") + 1], source, "input")
    assert_grounded(drop_open_line(answer, source, "input"), source, "input")


# --- tokens ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from conftest import compose_cfg
    from odin.modeling.adapter import load_for_inference

    cfg = compose_cfg(["model=tiny_random"], output_dir=tmp_path_factory.mktemp("run"))
    model, tokenizer = load_for_inference(cfg, None, device="cpu")
    return cfg, model, tokenizer


def _feed(processor, tokenizer, text: str):
    """Run `processor` over a hand-built token stream: a prompt, then `text` token by token."""
    import torch

    ids = torch.tensor([[5, 6, 7]])
    processor(ids, torch.zeros(1, len(tokenizer)))
    for token in tokenizer.encode(text, add_special_tokens=False):
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        processor(ids, torch.zeros(1, len(tokenizer)))
    return ids


def _scores_preferring(tokenizer, *tokens):
    import torch

    scores = torch.randn(1, len(tokenizer), generator=torch.Generator().manual_seed(0))
    for rank, token in enumerate(tokens):
        scores[0, token] = 100.0 - rank
    return scores


def test_the_models_choice_is_kept_when_it_is_allowed(tiny):
    _, _, tokenizer = tiny
    processor = grounded_processor(tokenizer, [SOURCE], [tokenizer.eos_token_id])
    ids = _feed(processor, tokenizer, "### Entities:\n1. [Drug] ")
    good = tokenizer.encode("en", add_special_tokens=False)[0]
    scores = _scores_preferring(tokenizer, good)
    assert processor(ids, scores.clone()).equal(scores)  # nothing touched: greedy takes its own choice


def test_a_choice_that_leaves_the_input_gives_way_to_the_best_allowed_one(tiny):
    _, _, tokenizer = tiny
    processor = grounded_processor(tokenizer, [SOURCE], [tokenizer.eos_token_id])
    ids = _feed(processor, tokenizer, "### Entities:\n1. [Drug] enalapri")
    (bad,) = tokenizer.encode("x", add_special_tokens=False)
    (worse,) = tokenizer.encode("q", add_special_tokens=False)
    (good,) = tokenizer.encode("l", add_special_tokens=False)
    out = processor(ids, _scores_preferring(tokenizer, bad, worse, good))
    assert int(out.argmax()) == good
    assert (out > float("-inf")).sum() == 1  # greedy: only the chosen token is left


def test_end_of_sequence_only_where_the_open_line_may_end(tiny):
    _, _, tokenizer = tiny
    eos = tokenizer.eos_token_id
    processor = grounded_processor(tokenizer, [SOURCE], [eos])
    ids = _feed(processor, tokenizer, LISTED + "1. enalapril --[causes]--> acute")
    assert int(processor(ids, _scores_preferring(tokenizer, eos)).argmax()) != eos
    processor = grounded_processor(tokenizer, [SOURCE], [eos])
    ids = _feed(processor, tokenizer, LISTED + "1. enalapril --[causes]--> acute renal failure")
    assert int(processor(ids, _scores_preferring(tokenizer, eos)).argmax()) == eos


def test_the_processor_grounds_relations_in_the_mode_it_is_given(tiny):
    _, _, tokenizer = tiny
    *before, last = tokenizer.encode(QT_LISTED + QT_RELATION, add_special_tokens=False)
    for relations, allowed in (("input", True), ("listed", False)):
        processor = grounded_processor(tokenizer, [QT], [tokenizer.eos_token_id], relations=relations)
        ids = _feed(processor, tokenizer, tokenizer.decode(before))
        assert (int(processor(ids, _scores_preferring(tokenizer, last)).argmax()) == last) == allowed, relations


def test_characters_split_over_several_tokens(tiny):
    _, _, tokenizer = tiny
    tokens = tokenizer.encode(" Sjögren", add_special_tokens=False)
    assert any("\ufffd" in tokenizer.decode([t]) for t in tokens)  # "ö" is two byte tokens here
    processor = grounded_processor(tokenizer, ["Sjögren syndrome with MTX"], [tokenizer.eos_token_id])
    ids = _feed(processor, tokenizer, "### Entities:\n1. [Disease]")
    import torch

    for token in tokens:  # each byte token of the entity is allowed as it comes
        assert int(processor(ids, _scores_preferring(tokenizer, token)).argmax()) == token
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    # An input without the character: its first byte is not allowed, there is nothing it could become.
    processor = grounded_processor(tokenizer, ["Sjogren syndrome with MTX"], [tokenizer.eos_token_id])
    ids = _feed(processor, tokenizer, "### Entities:\n1. [Disease] Sj")
    first_byte = tokenizer.encode("ö", add_special_tokens=False)[0]
    assert int(processor(ids, _scores_preferring(tokenizer, first_byte)).argmax()) != first_byte


def test_sampling_keeps_only_the_allowed_tokens_among_its_top_k(tiny):
    _, _, tokenizer = tiny
    processor = grounded_processor(tokenizer, [SOURCE], [tokenizer.eos_token_id], top_k=20)
    ids = _feed(processor, tokenizer, "### Entities:\n1. [Drug] enalapri")
    scores = _scores_preferring(tokenizer, *tokenizer.encode("xql", add_special_tokens=False))
    out = processor(ids, scores.clone())
    kept = (out > float("-inf")).nonzero()[:, 1].tolist()
    top = set(scores.topk(20).indices[0].tolist())
    assert kept and set(kept) <= top and tokenizer.encode("l", add_special_tokens=False)[0] in kept
    for token in kept:
        assert GroundedAnswer(SOURCE).accepts("### Entities:\n1. [Drug] enalapri" + tokenizer.decode([token]))


def test_pieces_keep_the_space_a_sentencepiece_decoder_drops_at_a_sequence_start():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(byte_fallback=True))
    raw.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    raw.decoder = decoders.Sequence([decoders.Metaspace(prepend_scheme="first"), decoders.ByteFallback(),
                                     decoders.Fuse()])
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    raw.train_from_iterator(["acute renal failure after enalapril\n"] * 5,
                            trainers.BpeTrainer(vocab_size=320, special_tokens=["<s>", "</s>", *byte_tokens]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>")
    ids = tokenizer.encode("acute renal failure", add_special_tokens=False)
    assert tokenizer.decode(ids[1:2]) == "renal"  # alone, the decoder drops the word's space
    texts = TokenText(tokenizer)
    assert "".join(texts.piece(t) for t in ids) == " acute renal failure"


# --- generation --------------------------------------------------------------------------------------------------------

TEXTS = [
    "Patient developed a rash after taking amoxicillin for pneumonia.",
    "Enalapril caused acute renal failure.",
    "Metformin was given for type 2 diabetes; lactic acidosis followed.",
    "Haloperidol induced tremor in a patient with schizophrenia who also took lithium for years.",
    "Cisplatin for ovarian cancer; nausea.",
    "Warfarin interacts with aspirin.",
]
# What a model that gets them right writes (every entity a span of its input, relations between listed ones)...
GOLD = [
    render([Entity("rash", "Symptom"), Entity("amoxicillin", "Drug"), Entity("pneumonia", "Disease")],
           [Relation("amoxicillin", "causes", "rash"), Relation("amoxicillin", "treats", "pneumonia")]),
    render([Entity("Enalapril", "Drug"), Entity("acute renal failure", "Symptom")],
           [Relation("enalapril", "causes", "acute renal failure")]),
    render([Entity("metformin", "Drug"), Entity("type 2 diabetes", "Disease"), Entity("lactic acidosis", "Symptom")],
           [Relation("metformin", "treats", "type 2 diabetes"), Relation("metformin", "causes", "lactic acidosis")]),
    render([Entity("haloperidol", "Drug"), Entity("tremor", "Symptom"), Entity("schizophrenia", "Disease")],
           [Relation("haloperidol", "causes", "tremor"), Relation("haloperidol", "treats", "schizophrenia")]),
    render([Entity("cisplatin", "Drug"), Entity("ovarian cancer", "Disease"), Entity("nausea", "Symptom")],
           [Relation("cisplatin", "causes", "nausea")]),
    render([Entity("warfarin", "Drug"), Entity("aspirin", "Drug")], [Relation("warfarin", "interacts_with", "aspirin")]),
]
# ... and answers with text that is not in the input (a misspelling, a paraphrase) or a relation to an unlisted entity.
SCRIPTS = [
    GOLD[0].replace("[Drug] amoxicillin", "[Drug] amoxicilin"),
    GOLD[1],
    GOLD[2].replace("[Disease] type 2 diabetes", "[Disease] type II diabetes"),
    GOLD[3].replace("[Disease] schizophrenia", "[Drug] lithium"),
    GOLD[4],
    GOLD[5],
]


def _generation(cfg, grounded: bool, **kw):
    from omegaconf import OmegaConf

    # The longest script is 55 tokens with the tiny tokenizer: room for it, and for a few corrections.
    return OmegaConf.merge(cfg.generation, {"grounded": grounded, "batch_size": 8, "max_new_tokens": 64, **kw})


def test_greedy_output_is_unchanged_where_it_is_already_grounded(tiny):
    from odin.inference import generate

    cfg, model, tokenizer = tiny
    prompts = [build_prompt(t) for t in TEXTS]
    with steered(model, tokenizer, {p: s + "\n\n" for p, s in zip(prompts, SCRIPTS)}):
        plain = generate(model, tokenizer, prompts, _generation(cfg, False), progress=False)
        grounded = generate(model, tokenizer, prompts, _generation(cfg, True, grounded_relations="listed"),
                            progress=False)
    for text, script, p, g in zip(TEXTS, SCRIPTS, plain, grounded):
        assert p == script  # the steered model writes its script
        assert_grounded(g, text)
        compliant = all(FoldedText(text).contains(e.text) for e in parse(script).entities) and _relations_listed(script)
        assert (g == p) == compliant  # a compliant answer is left exactly as the model wrote it; the others not


def test_input_mode_keeps_a_relation_to_a_drug_the_model_did_not_list(tiny):
    from odin.inference import generate

    cfg, model, tokenizer = tiny
    text = TEXTS[0]
    script = render([Entity("rash", "Symptom")], [Relation("amoxicillin", "causes", "rash")])
    with steered(model, tokenizer, {build_prompt(text): script + "\n\n"}):
        listed, input_ = (generate(model, tokenizer, [build_prompt(text)],
                                   _generation(cfg, True, grounded_relations=mode), progress=False)[0]
                          for mode in ("listed", "input"))
    assert input_ == script  # every end a span of the input: left as the model wrote it
    assert listed != script and "amoxicillin" not in listed  # the unlisted head was not allowed
    assert_grounded(input_, text, "input")
    assert_grounded(listed, text)


def _relations_listed(answer: str) -> bool:
    parsed = parse(answer)
    listed = {fold_text(e.text) for e in parsed.entities}
    return all(fold_text(r.head) in listed and fold_text(r.tail) in listed for r in parsed.relations)


@pytest.mark.parametrize("mode", ["listed", "input"])
def test_batched_grounded_generation_equals_one_by_one(tiny, mode):
    from odin.inference import generate

    cfg, model, tokenizer = tiny
    prompts = [build_prompt(t) for t in TEXTS[:4]]
    # A weak push: where the script is not allowed the model's own (context-dependent) logits choose.
    with steered(model, tokenizer, dict(zip(prompts, SCRIPTS)), bias=6.0):
        one, many = (generate(model, tokenizer, prompts, _generation(cfg, True, batch_size=size, max_new_tokens=40,
                                                                     grounded_relations=mode), progress=False)
                     for size in (1, 4))
    assert one == many  # per-row state under left padding and the length sort
    for text, answer in zip(TEXTS, many):
        assert_grounded(answer, text, mode)


@st.composite
def steered_cases(draw, unlisted: bool = False):
    """Inputs (any text), the answers a model is pushed towards (spans of its input, made-up strings, relations
    among any of them, or between listed entities and a made-up one; with `unlisted`, and spans of the input that
    are not listed), and how hard: any model, seeded."""
    texts = draw(st.lists(st.one_of(st.sampled_from(TEXTS), st.text(min_size=1, max_size=50)), min_size=1,
                          max_size=3))
    answers = []
    for text in texts:
        spans = st.builds(lambda a, n: text[a:a + n], st.integers(0, len(text)), st.integers(1, 20))
        names = draw(st.lists(st.one_of(spans, st.text(min_size=1, max_size=8)), min_size=1, max_size=3))
        names = [" ".join(n.split()) or "x" for n in names]
        ents = [Entity(n, draw(st.sampled_from(ENTITY_TYPES))) for n in names]
        ends = names + ([" ".join(n.split()) or "x" for n in draw(st.lists(spans, max_size=2))] if unlisted else [])
        rels = [Relation(draw(st.sampled_from(ends)), draw(st.sampled_from(RELATION_TYPES)),
                         draw(st.sampled_from(ends + ["made up"]))) for _ in range(draw(st.integers(0, 3)))]
        answers.append(render(ents, rels))
    return (texts, answers, draw(st.sampled_from([0.0, 1.0, 4.0])), draw(st.sampled_from([3.0, 8.0, 100.0])),
            draw(st.integers(0, 2**16)))


# Always run first: a model pushed to a right answer, so the check below sees entities and relations.
_RIGHT = ([TEXTS[1], TEXTS[5]], [GOLD[1], GOLD[5]], 1.0, 100.0, 0)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@example(case=_RIGHT)
@given(case=steered_cases())
def test_any_input_any_model_every_entity_is_a_span_and_every_relation_joins_listed_ones(tiny, case):
    from odin.inference import generate

    cfg, model, tokenizer = tiny
    texts, answers, noise, bias, seed = case
    prompts = [build_prompt(t) for t in texts]
    with steered(model, tokenizer, dict(zip(prompts, answers)), noise=noise, bias=bias, seed=seed):
        out = generate(model, tokenizer, prompts, _generation(cfg, True, batch_size=3, max_new_tokens=48,
                                                              grounded_relations="listed"), progress=False)
    for text, answer in zip(texts, out):
        entities, relations = assert_grounded(answer, text)
        _SEEN["entities"] += entities
        _SEEN["relations"] += relations


_SEEN = {"entities": 0, "relations": 0}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@example(case=([TEXTS[0]], [render([Entity("rash", "Symptom")], [Relation("amoxicillin", "causes", "rash")])], 1.0,
               100.0, 0))
@given(case=steered_cases(unlisted=True))
def test_in_input_mode_any_input_any_model_every_relation_end_is_a_span(tiny, case):
    from odin.inference import generate

    cfg, model, tokenizer = tiny
    texts, answers, noise, bias, seed = case
    prompts = [build_prompt(t) for t in texts]
    with steered(model, tokenizer, dict(zip(prompts, answers)), noise=noise, bias=bias, seed=seed):
        out = generate(model, tokenizer, prompts, _generation(cfg, True, grounded_relations="input", batch_size=3,
                                                              max_new_tokens=48), progress=False)
    for text, answer in zip(texts, out):
        assert_grounded(answer, text, "input")


def test_the_property_test_saw_entities_and_relations():
    # Runs after the property test (file order): a constraint that let nothing through would pass it vacuously.
    if _SEEN["entities"] == 0 and _SEEN["relations"] == 0:
        pytest.skip("run together with the property test above")
    assert _SEEN["entities"] > 0 and _SEEN["relations"] > 0, _SEEN


def test_grounded_generation_costs_at_most_half_again_the_time(tiny):
    from odin.inference import generate

    cfg, model, tokenizer = tiny
    prompts = [build_prompt(t) for t in TEXTS]
    # Compliant answers: both runs do the same decoding steps, one of them checking every token.
    times = {False: [], True: []}
    with steered(model, tokenizer, {p: s + "\n\n" for p, s in zip(prompts, GOLD)}):
        expected = generate(model, tokenizer, prompts, _generation(cfg, True), progress=False)  # warm-up
        # Interleaved, the best of five each, in CPU time of this process: another process on a busy 2-core machine
        # (CI, parallel helpers) stretches wall time many fold (0.15 s to 3.3 s seen) but not the work done here.
        for _ in range(5):
            for grounded in (False, True):
                start = time.process_time()
                out = generate(model, tokenizer, prompts, _generation(cfg, grounded), progress=False)
                times[grounded].append(time.process_time() - start)
                assert out == expected
    assert min(times[True]) <= 1.5 * min(times[False]), times


def test_grounded_decoding_takes_relation_ends_from_the_input_unless_told_to_hold_them_to_listed_entities():
    from conftest import compose_cfg

    # listed cost relation F1 on ADE (BENCHMARKS.md); a run asks for it by name
    assert str(compose_cfg([]).generation.grounded_relations) == "input"
    assert str(compose_cfg(["generation.grounded_relations=listed"]).generation.grounded_relations) == "listed"
