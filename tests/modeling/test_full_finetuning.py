"""lora.enabled=false (lora=none): full fine-tuning of the tiny random Llama through the real app, then evaluation,
prediction and publishing of the whole model it writes, and the combinations that cannot work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import REPO, compose_cfg, task_ctx
from odin.errors import OdinError

RUN = ["model=tiny_random", "training=smoke", "lora=none", "training.learning_rate=1e-3", "eval.num_samples=4",
       "generation.max_new_tokens=24", "tracking=none", "data.sources.synthetic.num_examples=60"]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    """`python -m odin lora=none ...`: prepare -> full fine-tuning -> eval in one run directory."""
    run_dir = tmp_path_factory.mktemp("full") / "run"
    res = subprocess.run([sys.executable, "-m", "odin", *RUN, f"hydra.run.dir={run_dir}"], cwd=REPO,
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    return run_dir


def test_every_weight_trains_and_final_model_is_the_whole_model(full_run):
    from safetensors.torch import load_file

    from odin.modeling.load import pretrained_dir

    final = full_run / "final_model"
    assert (final / "config.json").is_file() and (final / "model.safetensors").is_file()
    assert (final / "tokenizer.json").is_file() and not (final / "adapter_config.json").exists()
    cfg = compose_cfg(RUN)
    base = load_file(Path(pretrained_dir(cfg.model, cfg.paths.cache_dir)) / "model.safetensors")
    tuned = load_file(final / "model.safetensors")
    assert tuned.keys() == base.keys()
    # Not one adapter matrix: every tensor of the model moved (attention, MLP, norms, embeddings).
    unchanged = [name for name in base if torch.equal(base[name], tuned[name])]
    assert unchanged == []
    log = (full_run / "pipeline.log").read_text()
    assert "Full fine-tuning (hf backend, lora.enabled=false)" in log and "Fully fine-tuned model saved" in log


def test_eval_and_predict_read_the_whole_model(full_run, tmp_path):
    results = json.loads((full_run / "evaluation_results.json").read_text())
    assert results["model_dir"] == str(full_run / "final_model") and results["num_examples"] == 4

    from odin.tasks.predict import run as predict

    cfg = compose_cfg(["task=predict", *RUN, f"predict.model_dir={full_run / 'final_model'}",
                       "predict.text='Patient given enalapril; acute renal failure noted.'",
                       f"predict.output_file={tmp_path / 'pred.jsonl'}"], output_dir=tmp_path / "predict")
    predict(task_ctx(cfg, backend="hf"))
    (line,) = (tmp_path / "pred.jsonl").read_text().splitlines()
    assert json.loads(line)["text"] == "Patient given enalapril; acute renal failure noted."


def test_publish_pushes_the_whole_model_only_on_purpose(full_run, tmp_path):
    from odin.tasks.publish import check, run

    args = ["task=publish", "publish.what=model", f"publish.run_dir={full_run}", "publish.repo_id=jdoe/odin-tiny-full",
            "publish.dry_run=true"]
    with pytest.raises(OdinError, match=r"is a full fine-tune \(lora.enabled=false\).*publish.merged=true"):
        check(compose_cfg(args, output_dir=tmp_path / "publish"))
    cfg = compose_cfg([*args, "publish.merged=true"], output_dir=tmp_path / "publish")
    run(task_ctx(cfg))
    out = full_run / "publish" / "model"
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= names
    assert "adapter_config.json" not in names
    assert (out / "model.safetensors").read_bytes() == (full_run / "final_model" / "model.safetensors").read_bytes()
    card = (out / "README.md").read_text()
    assert "A fully fine-tuned model" in card and "Full fine-tuning: every weight" in card
    assert "library_name: transformers" in card and "PeftModel" not in card


@pytest.mark.parametrize("override,message", [
    ("model.load_in_4bit=true", "4-bit weights .* cannot be trained"),
    ("training.merge=true", "no adapter to merge"),
    ("training.init_adapter={adapter}", "continues a LoRA adapter"),
])
def test_combinations_that_cannot_work_are_refused_before_work(tmp_path, override, message):
    from odin.validate import validate

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    cfg = compose_cfg(["task=train", "model=tiny_random", "lora=none", override.format(adapter=adapter)],
                      output_dir=tmp_path / "run")
    with pytest.raises(OdinError, match=message):
        validate(cfg)


def test_register_accepts_a_full_fine_tune(full_run, tmp_path):
    from odin.tasks.register import check

    check(compose_cfg(["task=register", "tracking=mlflow", f"register.run_dir={full_run}"], output_dir=tmp_path))
    with pytest.raises(OdinError, match="holds no trained model"):
        check(compose_cfg(["task=register", "tracking=mlflow", f"register.run_dir={tmp_path}"], output_dir=tmp_path))
