"""Synthetic clinical notes: a seeded, rule-based generator, the embedded default data (no files needed).

Each note is 1-3 sentences built in two steps:
1. facts: a plan of sentence kinds (presentation, treatment, adverse effect, interaction, symptom relief, history)
   and the concepts that fill it, drawn from `synthetic_vocab` so that what a note says is medically plausible
   (a drug treats one of its indications, causes one of its known adverse effects, ...);
2. surface: a template per sentence kind and a written form per concept. `augment=True` varies only this step
   (abbreviations, brand names, synonyms, letter case, shorthand and reordered clauses), so with the same seed the
   augmented notes state the same facts as the plain ones.

Facts and surface use separate random streams seeded from (seed, index), so output is identical across processes
and runs. `version=1` is the V1 history: Drug and Disease entities with causes/treats relations only.
Relation directions are fixed by type: Drug causes/treats X; Symptom associated_with Disease; for interacts_with
the drug named first in the note is the head.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from typing import Optional

from odin.data.example import Example, SourceResult
from odin.data.release import SourceOrigin
from odin.data.sources import CardFacts, Source
from odin.data.sources.synthetic_vocab import (
    ALIASES, DISEASE_SYMPTOMS, DISEASES, DRUGS, INTERACTIONS, RELIEVERS, SYMPTOMS,
)
from odin.errors import OdinError
from odin.extraction import Entity, Extraction, Relation
from odin.format import render


@dataclass
class SyntheticSourceConfig:
    weight: float = 1.0
    cap: Optional[int] = None
    num_examples: int = 600
    seed: int = 42
    version: int = 2  # 1: Drug/Disease + causes/treats only (V1); 2: all entity and relation types
    augment: bool = False  # V12: surface variation (case, abbreviations, clause order) of the same facts


# Slot -> entity type (None: looked up from the vocabulary, for adverse effects and relieved symptoms).
SLOT_TYPES = {"X": "Drug", "X2": "Drug", "Y1": "Drug", "Y2": "Drug", "Z": "Drug", "HX": "Drug",
              "D": "Disease", "H": "Disease", "S1": "Symptom", "S2": "Symptom", "A1": None, "A2": None, "SZ": None}

# Sentence kind -> relations between its slots (head slot, relation, tail slot).
KIND_RELATIONS = {
    "present1": [("S1", "associated_with", "D")],
    "present2": [("S1", "associated_with", "D"), ("S2", "associated_with", "D")],
    "intro_treat": [("X", "treats", "D")],
    "treat1": [("X", "treats", "D")],
    "treat2": [("X", "treats", "D"), ("X2", "treats", "D")],
    "treat_add": [("X2", "treats", "D")],
    "adverse1": [("X", "causes", "A1")],
    "adverse2": [("X", "causes", "A1"), ("X", "causes", "A2")],
    "ade_title": [("X", "causes", "A1"), ("X", "treats", "D")],
    "interaction": [("Y1", "interacts_with", "Y2")],
    "relief": [("Z", "treats", "SZ")],
    "history": [],
    "history_treated": [("HX", "treats", "H")],
    "closing": [],
}

# Sentence kind -> (plain templates, extra templates used only with augment). {P}: patient phrase, {pl}: the same
# starting lower-case, {p}: pronoun. Every template of a kind uses the same entity slots, so the facts of a note
# never depend on the template drawn; interaction templates name Y1 before Y2.
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "present1": (
        ("{P} presented with {S1} and was diagnosed with {D}.",
         "{P} with known {D} was seen for worsening {S1}.",
         "{S1} in {pl} was attributed to {D}.",
         "Workup of {S1} in {pl} revealed {D}."),
        ("{P} c/o {S1}, likely {D}.", "{D} w/ {S1}.", "{S1} secondary to {D} in {pl}.")),
    "present2": (
        ("{P} presented with {S1} and {S2} and was diagnosed with {D}.",
         "{P} was admitted with {D} after several days of {S1} and {S2}.",
         "{P} reported {S1} and {S2}, consistent with {D}.",
         "Evaluation of {S1} and {S2} in {pl} revealed {D}."),
        ("{P} c/o {S1} and {S2}; dx {D}.", "{D} presenting with {S1} and {S2} in {pl}.",
         "Dx: {D} ({S1}, {S2}).")),
    "intro_treat": (
        ("{P} with {D} was started on {X}.", "{P} was diagnosed with {D} and started on {X}.",
         "{P} with a history of {D} has been taking {X}.", "{P} was treated with {X} for {D}."),
        ("{P} w/ {D}, started on {X}.", "{P}, hx {D}, on {X}.", "For {D}, {pl} was started on {X}.",
         "{X} was prescribed to {pl} for {D}.")),
    "treat1": (
        ("{X} was initiated for {D}.", "{p} was treated with {X} for {D}.", "{D} was managed with {X}.",
         "{X} was prescribed for {D}."),
        ("Started {X} for {D}.", "For {D}, {X} was prescribed.", "Tx: {X} for {D}.", "{D} -> {X}.")),
    "treat2": (
        ("{X} and {X2} were started for {D}.", "{D} was treated with {X} and {X2}.",
         "{p} received {X} plus {X2} for {D}."),
        ("For {D}, {X} + {X2} started.", "Tx for {D}: {X}, {X2}.")),
    "treat_add": (
        ("{X2} was added for {D}.", "{D} remained uncontrolled, so {X2} was added.",
         "{p} was also started on {X2} for {D}."),
        ("Added {X2} for {D}.", "{D} not controlled -> added {X2}.")),
    "adverse1": (
        ("{p} developed {A1} after starting {X}.", "{A1} was attributed to {X}.",
         "{X} was discontinued because of {A1}.", "Two weeks after starting {X}, {p} developed {A1}."),
        ("{A1} 2/2 {X}.", "{X} stopped d/t {A1}.", "Developed {A1} on {X}.",
         "{A1}, thought secondary to {X}, prompted a switch.")),
    "adverse2": (
        ("{p} developed {A1} and {A2} after starting {X}.", "{X} was stopped because of {A1} and {A2}.",
         "{A1} and {A2} were attributed to {X}."),
        ("{A1}/{A2} 2/2 {X}.", "{X} d/c'd d/t {A1} and {A2}.", "On {X}, {p} developed {A1} and {A2}.")),
    "ade_title": (
        ("{X}-induced {A1} in a patient treated for {D}.", "{P} treated with {X} for {D} developed {A1}.",
         "{A1} during {X} treatment of {D}: a case report."),
        ("Case: {A1} on {X} for {D}.", "{X} for {D} -> {A1}.", "New {A1} in {pl} on {X} for {D}.")),
    "interaction": (
        ("{Y1} was held because of a potential interaction with {Y2}.",
         "The pharmacist flagged an interaction between {Y1} and {Y2}.",
         "{Y1} dosing was adjusted given its interaction with {Y2}.",
         "Concomitant use of {Y1} and {Y2} was avoided because of a drug interaction."),
        ("DDI: {Y1} + {Y2}.", "Avoid {Y1} w/ {Y2} (interaction).", "{Y1} interacts with {Y2}; dose reduced.")),
    "relief": (
        ("{SZ} was managed with {Z}.", "{Z} was given for {SZ}.", "{p} received {Z} for {SZ}.",
         "{SZ} improved with {Z}."),
        ("{Z} PRN {SZ}.", "Gave {Z} for {SZ}.", "For {SZ}, {Z} was given.")),
    "history": (
        ("{p} also has a history of {H}.", "Past medical history includes {H}.", "Comorbidities include {H}."),
        ("PMH: {H}.", "Hx of {H}.")),
    "history_treated": (
        ("{p} also takes {HX} for {H}.", "{H} is controlled with {HX}.",
         "Past history includes {H}, treated with {HX}."),
        ("PMH: {H} on {HX}.", "Home meds: {HX} ({H}).")),
    "closing": (
        ("{P} was discharged home in stable condition.", "Follow-up was arranged in four weeks.",
         "{P} was seen in clinic for a routine visit."),
        ("F/u 4 wks.", "{P} seen for routine f/u.")),
}

# Plans: the sentence kinds of a note, with their weights. "present", "treat" and "adverse" pick their 1- or
# 2-concept variant when the facts are drawn.
PLANS_V2: tuple[tuple[tuple[str, ...], int], ...] = (
    (("intro_treat",), 8), (("ade_title",), 8), (("present",), 6), (("history",), 1), (("closing",), 1),
    (("present", "treat"), 8), (("intro_treat", "adverse"), 10), (("intro_treat", "interaction"), 5),
    (("intro_treat", "relief"), 3), (("history_treated", "ade_title"), 3),
    (("present", "treat", "adverse"), 10), (("present", "treat", "relief"), 5),
    (("intro_treat", "adverse", "relief"), 7), (("intro_treat", "adverse", "interaction"), 5),
    (("history", "intro_treat", "adverse"), 4), (("present", "treat", "interaction"), 4),
    (("intro_treat", "history_treated", "interaction"), 3), (("present", "treat", "history"), 2),
)
# V1: Drug/Disease, causes/treats. Adverse effects are then drawn from the diseases a drug causes.
PLANS_V1: tuple[tuple[tuple[str, ...], int], ...] = (
    (("intro_treat",), 10), (("ade_title",), 10), (("history",), 1), (("intro_treat", "adverse"), 10),
    (("history_treated", "intro_treat"), 5), (("history_treated", "ade_title"), 4),
    (("history_treated", "intro_treat", "adverse"), 5), (("intro_treat", "treat"), 3),
)

TYPE_OF = {**{d: "Disease" for d in DISEASES}, **{s: "Symptom" for s in SYMPTOMS}}
ALL_DRUGS = tuple(sorted(set(DRUGS) | {d for ds in RELIEVERS.values() for d in ds}))
TREATED_BY: dict[str, tuple[str, ...]] = {
    d: tuple(sorted(x for x, (ind, _) in DRUGS.items() if d in ind)) for d in DISEASES
}
PARTNERS: dict[str, tuple[str, ...]] = {
    x: tuple(sorted({b for a, b in INTERACTIONS if a == x} | {a for a, b in INTERACTIONS if b == x})) for x in DRUGS
}


@dataclass
class Facts:
    kinds: list[str]
    concepts: dict[str, str] = field(default_factory=dict)  # slot -> canonical term
    age: int = 50
    female: bool = False


def load(cfg: SyntheticSourceConfig, raw_data_dir: Optional[str] = None) -> SourceResult:
    check(cfg)
    return SourceResult(generate(cfg.num_examples, cfg.seed, cfg.version, cfg.augment), origin=_origin(cfg))


def check(cfg: SyntheticSourceConfig, raw_data_dir: Optional[str] = None) -> None:
    if cfg.num_examples < 0:
        raise OdinError(f"data.sources.synthetic.num_examples={cfg.num_examples}: must be 0 or more")
    if cfg.version not in (1, 2):
        raise OdinError(f"data.sources.synthetic.version={cfg.version}: must be 1 (Drug/Disease, causes/treats) or 2")


def sample(cfg: SyntheticSourceConfig, n: int) -> list[Example]:
    """`n` distinct notes (no exact duplicates), marked as training examples: what data.synthetic_ratio adds."""
    if n <= 0:
        return []
    out, seen = [], set()
    for ex in generate(int(n * 1.25) + 20, cfg.seed, cfg.version, cfg.augment):
        key = (ex.text, render(ex.extraction.entities, ex.extraction.relations))
        if key not in seen:
            seen.add(key)
            out.append(replace(ex, split="train"))
            if len(out) == n:
                break
    return out


def _origin(cfg: SyntheticSourceConfig) -> SourceOrigin:
    return SourceOrigin(f"odin's rule-based generator (seed {cfg.seed}, version {cfg.version}"
                        + (", augmented)" if cfg.augment else ")"))


def generate(num_examples: int, seed: int, version: int = 2, augment: bool = False) -> list[Example]:
    """`num_examples` notes, identical for the same (seed, version, augment) in any process."""
    if version not in (1, 2):
        raise OdinError(f"data.sources.synthetic.version={version}: must be 1 (Drug/Disease, causes/treats) or 2")
    examples = []
    for i in range(num_examples):
        facts = _draw_facts(random.Random(_stream(seed, i, 0)), version)
        text, extraction = _render(facts, random.Random(_stream(seed, i, 1)), augment)
        doc_id = f"synthetic:{seed}:{i}"
        examples.append(Example(id=doc_id, doc_id=doc_id, text=text, extraction=extraction, source="synthetic"))
    return examples


def _stream(seed: int, index: int, stream: int) -> int:
    # An integer seed per (seed, example, stream); Python's Random seeds ints the same way on every platform.
    return (int(seed) * 1_000_003 + index) * 4 + stream


# --- facts --------------------------------------------------------------------------------------------------------


def _draw_facts(rng: random.Random, version: int) -> Facts:
    plans = PLANS_V1 if version == 1 else PLANS_V2
    plan = rng.choices([p for p, _ in plans], weights=[w for _, w in plans])[0]
    facts = Facts(kinds=[], age=rng.randint(19, 89), female=rng.random() < 0.5)
    c = facts.concepts
    used: set[str] = set()

    def take(slot: str, term: str) -> None:
        c[slot] = term
        used.add(term)

    def adverse_effects(drug: str) -> list[str]:
        return [a for a in DRUGS[drug][1] if a not in used and (version == 2 or TYPE_OF[a] == "Disease")]

    drug_kinds = {"intro_treat", "treat", "adverse", "ade_title", "present", "interaction"}
    if drug_kinds & set(plan):
        needs_ae = "adverse" in plan or "ade_title" in plan
        candidates = [x for x in sorted(DRUGS) if not needs_ae or adverse_effects(x)]
        if "present" in plan:
            candidates = [x for x in candidates if any(d in DISEASE_SYMPTOMS for d in DRUGS[x][0])]
        if "interaction" in plan and rng.random() < 0.7:
            candidates = [x for x in candidates if PARTNERS[x]] or candidates
        take("X", rng.choice(candidates))
        indications = [d for d in DRUGS[c["X"]][0] if "present" not in plan or d in DISEASE_SYMPTOMS]
        take("D", rng.choice(indications))

    for kind in plan:
        if kind == "present":
            symptoms = [s for s in DISEASE_SYMPTOMS[c["D"]] if s not in used]
            n = min(len(symptoms), rng.choice((1, 2, 2)))
            for k, s in enumerate(rng.sample(symptoms, n), 1):
                take(f"S{k}", s)
            kind = f"present{n}"
        elif kind == "treat":
            others = [x for x in TREATED_BY[c["D"]] if x not in used]
            if "intro_treat" in plan:  # X already treats D: this sentence adds a second drug
                if not others:
                    continue
                take("X2", rng.choice(others))
                kind = "treat_add"
            elif others and rng.random() < 0.35:
                take("X2", rng.choice(others))
                kind = "treat2"
            else:
                kind = "treat1"
        elif kind in ("adverse", "ade_title"):
            effects = adverse_effects(c["X"])
            if not effects:
                continue
            if "relief" in plan and rng.random() < 0.7:  # prefer an effect the relief sentence can then treat
                effects = [a for a in effects if a in RELIEVERS] or effects
            n = 2 if kind == "adverse" and len(effects) > 1 and rng.random() < 0.35 else 1
            for k, a in enumerate(rng.sample(effects, n), 1):
                take(f"A{k}", a)
            kind = f"adverse{n}" if kind == "adverse" else kind
        elif kind == "interaction":
            partners = [y for y in PARTNERS.get(c.get("X", ""), ()) if y not in used]
            if partners:
                pair = [c["X"], rng.choice(partners)]
            else:
                pair = list(rng.choice([p for p in INTERACTIONS if not set(p) & used]))
            rng.shuffle(pair)
            c["Y1"], c["Y2"] = pair
            used.update(pair)
        elif kind == "relief":
            in_note = [c[s] for s in ("A1", "A2", "S1", "S2") if c.get(s) in RELIEVERS]
            symptom = rng.choice(in_note) if in_note else rng.choice([s for s in sorted(RELIEVERS) if s not in used])
            drugs = [z for z in RELIEVERS[symptom] if z not in used] or [
                z for z in ALL_DRUGS if z not in used and z not in DRUGS]
            c["SZ"] = symptom
            take("Z", rng.choice(drugs))
        elif kind in ("history", "history_treated"):
            pool = [d for d in sorted(DISEASE_SYMPTOMS) if d not in used]
            if kind == "history_treated":
                pool = [d for d in pool if any(x not in used for x in TREATED_BY[d])]
            take("H", rng.choice(pool))
            if kind == "history_treated":
                take("HX", rng.choice([x for x in TREATED_BY[c["H"]] if x not in used]))
        facts.kinds.append(kind)
    return facts


# --- surface ------------------------------------------------------------------------------------------------------


def _render(facts: Facts, rng: random.Random, augment: bool) -> tuple[str, Extraction]:
    # One written form per concept, so a drug named in two sentences (or two slots) is written the same way.
    written: dict[str, str] = {}
    for slot, term in facts.concepts.items():
        if term not in written:
            written[term] = _surface(term, rng, augment)
    case = rng.choices(("plain", "title", "upper", "lower"), weights=(6, 2, 1, 1))[0] if augment else "plain"
    for slot, term in facts.concepts.items():
        if _slot_type(slot, term) == "Drug" and written[term].islower() and case in ("title", "upper"):
            written[term] = written[term].upper() if case == "upper" else written[term].title()

    patient = _patient(facts, rng, augment)
    values = {slot: written[term] for slot, term in facts.concepts.items()}
    values.update(P=patient, pl=patient[0].lower() + patient[1:], p="she" if facts.female else "he")
    sentences, slots_used = [], []
    for kind in facts.kinds:
        plain, extra = TEMPLATES[kind]
        template = rng.choice(plain + extra if augment else plain)
        sentence = template.format(**values)
        sentences.append(sentence[0].upper() + sentence[1:])
        slots_used += [s for s in _slots(template) if s not in slots_used]
    text = " ".join(sentences)
    if case == "lower":
        text = text.lower()

    # An entity is written as the note writes it (a sentence may capitalise its first word), found by a
    # case-insensitive whole-word search; the vocabulary guarantees no concept's term hides inside another's.
    mentions: dict[str, tuple[int, str]] = {}
    for slot in slots_used:
        match = re.search(rf"(?<!\w){re.escape(values[slot])}(?!\w)", text, flags=re.IGNORECASE)
        if match is None:  # a template/vocabulary bug, never data-dependent: fail loudly
            raise AssertionError(f"synthetic: {values[slot]!r} not found in {text!r}")
        mentions[slot] = (match.start(), match.group(0))
    entities = [Entity(m, _slot_type(slot, facts.concepts[slot]))
                for slot, (_, m) in sorted(mentions.items(), key=lambda kv: kv[1][0])]
    relations = []
    for kind in facts.kinds:
        for head, rel, tail in KIND_RELATIONS[kind]:
            if rel == "interacts_with" and mentions[head][0] > mentions[tail][0]:
                head, tail = tail, head
            relations.append(Relation(mentions[head][1], rel, mentions[tail][1]))
    return text, Extraction.of(entities, relations)


def _slots(template: str) -> list[str]:
    """The entity slots a template fills, in order."""
    return [s for s in re.findall(r"\{(\w+)\}", template) if s in SLOT_TYPES]


def _slot_type(slot: str, term: str) -> str:
    return SLOT_TYPES[slot] or TYPE_OF[term]


def _surface(term: str, rng: random.Random, augment: bool) -> str:
    if augment and term in ALIASES and rng.random() < 0.4:
        return rng.choice(ALIASES[term])
    return term


def _patient(facts: Facts, rng: random.Random, augment: bool) -> str:
    noun = "woman" if facts.female else "man"
    letter = "F" if facts.female else "M"
    article = "An" if str(facts.age).startswith("8") or facts.age in (11, 18) else "A"
    forms = [f"{article} {facts.age}-year-old {noun}"] * 2 + ["The patient"]
    if augment:
        forms += [f"{facts.age}{letter}", f"Pt ({facts.age}{letter})", f"{facts.age} yo {letter}"]
    return rng.choice(forms)


SOURCE = Source(
    name="synthetic",
    config=SyntheticSourceConfig,
    load=load,
    check=check,
    sample=sample,
    card=CardFacts(
        pretty_name="odin synthetic notes",
        license="apache-2.0",
        license_name=None,
        terms="generated by odin's rule-based generator (Apache-2.0)",
        citation="",
        content="short rule-based clinical notes",
        mapping=lambda cfg: "generated directly in odin's types: " + (
            "Drug and Disease entities, causes and treats relations (version 1)" if cfg.version == 1
            else "Drug, Disease and Symptom entities, all four relations") + (
            "; surface variation (case, abbreviations, clause order) of the same facts" if cfg.augment else ""),
        source_dataset="original",
    ),
)
