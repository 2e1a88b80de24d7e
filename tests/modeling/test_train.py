"""task=train end to end on the tiny random Llama through the real hf backend: the loss falls, the run directory is
complete, the adapter reloads to the same logits, resume continues from a checkpoint, two-stage training, merge,
and the errors a user can act on."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import torch
from transformers import TrainerCallback

from odin.errors import OdinError
from odin.modeling.load import load_base_model, load_tokenizer, peft_quietly
from odin.tasks.train import train, training_metrics
from training_notes import TINY, write_data

from conftest import REPO


class Capture(TrainerCallback):
    """Remembers the steps it saw and the trained model, to compare with what was written to disk."""

    def __init__(self, stop_at: int | None = None):
        self.stop_at, self.steps, self.model = stop_at, [], None
        self.first_lora = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.first_lora = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if "lora_" in k}

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)
        if state.global_step == self.stop_at:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C (or the job was killed) mid-run

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.model = model


def _losses(run_dir):
    history = json.loads((run_dir / "trainer_state.json").read_text())["log_history"]
    return [h["loss"] for h in history if "loss" in h]


def _batch(tokenizer, texts):
    return tokenizer(texts, return_tensors="pt", padding=True)


def test_training_lowers_the_loss_and_leaves_a_complete_run_dir(make_cfg, tmp_path, caplog):
    data = write_data(tmp_path / "data", n_train=8, n_val=4)
    cfg = make_cfg([*TINY, "training.max_steps=30", "training.learning_rate=1e-2", "training.per_device_batch_size=4",
                    "training.eval_every=0.5", "training.load_best_model=false"])
    run_dir = tmp_path / "run"
    capture = Capture()
    with caplog.at_level(logging.INFO, logger="odin"):
        final = train(cfg, data, run_dir, callbacks=[capture])

    assert final == run_dir / "final_model"
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (final / name).exists(), name
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == ["checkpoint-30"]  # save_total_limit=1
    state = json.loads((run_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 30 and state["eval_steps"] == 15 and state["save_steps"] == 15
    assert [h["step"] for h in state["log_history"] if "eval_loss" in h] == [15, 30]
    log_text = caplog.text  # in a run, Hydra's job logging writes these lines to <run dir>/<task>.log
    assert "step 30/30  loss" in log_text and "tok/s" in log_text and "eval_loss" in log_text

    losses = _losses(run_dir)
    assert len(losses) == 30
    # The tiny model's frozen random embeddings cap what LoRA can learn (~5.5 nats); it gets there from ~6.4.
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5, losses
    assert training_metrics(run_dir)["eval_loss"] < losses[0]

    # The adapter on disk is the model that was trained: reloaded onto a fresh base, the same logits.
    from peft import PeftModel

    tok = load_tokenizer(cfg.model, cfg.paths.cache_dir)
    with peft_quietly():
        reloaded = PeftModel.from_pretrained(load_base_model(cfg.model, cfg.paths.cache_dir, device="cpu"),
                                             final).eval()
    batch = _batch(tok, ["Patient given enalapril; acute renal failure noted.", "lithium was started."])
    with torch.no_grad():
        expected = capture.model.cpu().eval()(**batch).logits
        got = reloaded(**batch).logits
    assert torch.allclose(expected, got, atol=1e-5)


def test_interrupted_run_resumes_from_its_last_checkpoint(make_cfg, tmp_path):
    data = write_data(tmp_path / "data", n_train=8, n_val=0)
    overrides = [*TINY, "training.max_steps=8", "training.eval_every=0.25", "training.save_total_limit=2"]
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(make_cfg(overrides), data, run_dir, callbacks=[Capture(stop_at=5)])
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert not (run_dir / "final_model").exists()

    capture = Capture()
    train(make_cfg([*overrides, "training.resume=true"]), data, run_dir, callbacks=[capture])
    assert capture.steps == [5, 6, 7, 8]  # continued after checkpoint-4: lost only step 5, not 1-4
    state = json.loads((run_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 8
    assert [h["step"] for h in state["log_history"] if "loss" in h] == list(range(1, 9))
    assert (run_dir / "final_model" / "adapter_model.safetensors").exists()

    # Resuming from another run's directory continues there and writes here.
    other = tmp_path / "other"
    capture = Capture()
    train(make_cfg([*overrides, "training.max_steps=10", "training.resume=true", f"training.resume_from={run_dir}"]),
          data, other, callbacks=[capture])
    assert capture.steps == [9, 10]
    assert (other / "final_model" / "adapter_config.json").exists()


def test_resume_without_a_checkpoint_is_a_clear_error(make_cfg, tmp_path):
    data = write_data(tmp_path / "data")
    with pytest.raises(OdinError, match="no checkpoint-\\* to continue from"):
        train(make_cfg([*TINY, "training.resume=true"]), data, tmp_path / "run")


def test_second_stage_starts_from_the_first_stage_adapter(make_cfg, tmp_path):
    data = write_data(tmp_path / "data", n_train=8, n_val=0)
    stage1 = train(make_cfg([*TINY, "training.learning_rate=1e-2"]), data, tmp_path / "stage1")
    from safetensors.torch import load_file

    stage1_weights = load_file(stage1 / "adapter_model.safetensors")
    capture = Capture()
    stage2 = train(make_cfg([*TINY, "lora=r32", f"training.init_adapter={stage1}"]), data, tmp_path / "stage2",
                   callbacks=[capture])
    start = {k.replace(".default", ""): v for k, v in capture.first_lora.items()}
    assert start.keys() == stage1_weights.keys()
    assert all(torch.equal(start[k], stage1_weights[k]) for k in start)  # not a fresh LoRA init
    config = json.loads((stage2 / "adapter_config.json").read_text())
    assert config["r"] == json.loads((stage1 / "adapter_config.json").read_text())["r"] == 16  # the adapter's own
    stage2_weights = load_file(stage2 / "adapter_model.safetensors")
    assert any(not torch.equal(stage2_weights[k], stage1_weights[k]) for k in stage1_weights)  # and it trained on


def test_merge_writes_a_standalone_model_with_the_adapters_logits(make_cfg, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    data = write_data(tmp_path / "data", n_train=8, n_val=0)
    cfg = make_cfg([*TINY, "training.learning_rate=1e-2", "training.merge=true"])
    final = train(cfg, data, tmp_path / "run")
    merged_dir = tmp_path / "run" / "merged_model"
    assert (merged_dir / "config.json").exists() and (merged_dir / "tokenizer.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    with peft_quietly():
        adapted = PeftModel.from_pretrained(load_base_model(cfg.model, cfg.paths.cache_dir, device="cpu"),
                                            final).eval()
    base = load_base_model(cfg.model, cfg.paths.cache_dir, device="cpu").eval()
    batch = _batch(load_tokenizer(cfg.model, cfg.paths.cache_dir), ["warfarin was started for atrial fibrillation."])
    with torch.no_grad():
        merged_logits, adapted_logits, base_logits = (m(**batch).logits for m in (merged, adapted, base))
    assert torch.allclose(merged_logits, adapted_logits, atol=1e-4)
    assert not torch.allclose(merged_logits, base_logits, atol=1e-4)


def test_packing_trains(make_cfg, tmp_path):
    data = write_data(tmp_path / "data", n_train=8, n_val=2)
    final = train(make_cfg([*TINY, "training.packing=true"]), data, tmp_path / "run")
    assert (final / "adapter_model.safetensors").exists()
    assert len(_losses(tmp_path / "run")) == 4


# --- errors a user can act on ----------------------------------------------------------------------------------------


def test_missing_train_split(make_cfg, tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(OdinError, match="No train split .*train.jsonl"):
        train(make_cfg(TINY), tmp_path / "data", tmp_path / "run")


def test_empty_training_set(make_cfg, tmp_path):
    data = write_data(tmp_path / "data", n_train=8)
    (data / "train.jsonl").write_text("")
    with pytest.raises(OdinError, match="train.jsonl has no examples"):
        train(make_cfg(TINY), data, tmp_path / "run")


def test_every_example_too_long(make_cfg, tmp_path):
    data = write_data(tmp_path / "data", n_train=8)
    with pytest.raises(OdinError, match="All 8 training examples .* longer than model.max_seq_length=40"):
        train(make_cfg([*TINY, "model.max_seq_length=40"]), data, tmp_path / "run")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU behaviour")
def test_unsloth_backend_on_cpu(make_cfg, tmp_path):
    data = write_data(tmp_path / "data")
    with pytest.raises(OdinError, match="model.backend=unsloth needs a CUDA GPU.*model.backend=hf"):
        train(make_cfg([*TINY, "model.backend=unsloth"]), data, tmp_path / "run")


def test_unknown_model(make_cfg, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as HF_HUB_OFFLINE=1: fail fast
    data = write_data(tmp_path / "data")
    cfg = make_cfg([*TINY, "model.source=hub", "model.name=nonexistent/model"])
    with pytest.raises(OdinError, match="Could not load model 'nonexistent/model'"):
        train(cfg, data, tmp_path / "run")


def test_out_of_memory_gives_advice_and_keeps_checkpoints(make_cfg, tmp_path, monkeypatch):
    from trl import SFTTrainer

    real_step = SFTTrainer.training_step
    calls = {"n": 0}

    def step_then_oom(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(SFTTrainer, "training_step", step_then_oom)
    data = write_data(tmp_path / "data", n_train=8, n_val=0)
    run_dir = tmp_path / "run"
    cfg = make_cfg([*TINY, "training.eval_every=0.5", "training.per_device_batch_size=4"])
    with pytest.raises(OdinError) as err:
        train(cfg, data, run_dir)
    message = str(err.value)
    for advice in ("training.per_device_batch_size=2 training.gradient_accumulation_steps=2", "model.load_in_4bit=true",
                   "model.max_seq_length", f"training.resume=true training.resume_from={run_dir}"):
        assert advice in message
    assert (run_dir / "checkpoint-2").exists()


def test_cli_writes_hydra_config_and_one_train_log(tmp_path):
    run_dir = tmp_path / "cli"
    cmd = [sys.executable, "-m", "odin", "task=train", *TINY, "data.sources.synthetic.num_examples=40",
           "model.max_seq_length=512", "training.max_steps=2", "tracking=none", f"hydra.run.dir={run_dir}"]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert (run_dir / ".hydra" / "config.yaml").exists()
    assert (run_dir / "final_model" / "adapter_model.safetensors").exists()
    assert (run_dir / "data" / "train.jsonl").exists()
    log_lines = (run_dir / "train.log").read_text().splitlines()
    step_lines = [line for line in log_lines if "step 2/2  loss" in line]
    assert len(step_lines) == 1  # Hydra's file handler and odin's are not both writing it
