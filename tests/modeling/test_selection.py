"""Model selection and early stopping on validation F1 (training.best_model_metric, training.early_stopping_patience),
on the tiny random Llama through the real trainer, generation and metrics."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from transformers import TrainerCallback

from odin.data.prepared import write_split
from odin.errors import OdinError
from odin.modeling.selection import val_sample
from odin.tasks.train import train, training_metrics
from training_notes import TINY, note_records, write_data


class Logs(TrainerCallback):
    """What a tracker's callback (MLflow's, later in the list) receives from the trainer's logs."""

    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append({**(logs or {}), "step": state.global_step})


def _history(run_dir):
    return json.loads((run_dir / "trainer_state.json").read_text())


def test_the_checkpoint_with_the_best_val_f1_is_kept(make_cfg, tmp_path):
    # Four notes the model learns by heart (full fine-tuning moves the tiny model's random embeddings too), scored
    # on themselves: val F1 rises from 0 as training goes on.
    data = tmp_path / "data"
    write_split(note_records(4), data, "train")
    write_split(note_records(4), data, "val")
    cfg = make_cfg([*TINY, "lora=none", "training.max_steps=60", "training.learning_rate=3e-3",
                    "training.per_device_batch_size=4", "training.warmup_steps=0", "training.eval_every=0.5",
                    "training.load_best_model=true", "training.best_model_metric=eval_entity_f1",
                    "generation.max_new_tokens=40"])
    logs = Logs()
    run_dir = tmp_path / "run"
    train(cfg, data, run_dir, callbacks=[logs])

    state = _history(run_dir)
    scored = [h for h in state["log_history"] if "eval_entity_f1" in h]
    assert [h["step"] for h in scored] == [30, 60]
    for h in scored:
        assert set(h) >= {"eval_entity_f1", "eval_entity_precision", "eval_entity_recall", "eval_relation_f1",
                          "eval_relation_precision", "eval_relation_recall"}
    f1 = [h["eval_entity_f1"] for h in scored]
    assert max(f1) > 0, f1  # the model learned something the metric sees
    best_step = scored[f1.index(max(f1))]["step"]
    assert state["best_metric"] == max(f1)
    assert state["best_global_step"] == best_step
    assert state["best_model_checkpoint"].endswith(f"checkpoint-{best_step}")
    # final_model/ is that checkpoint's model.
    from safetensors.torch import load_file

    kept = load_file(run_dir / f"checkpoint-{best_step}" / "model.safetensors")
    final = load_file(run_dir / "final_model" / "model.safetensors")
    assert all(torch.equal(kept[k], final[k]) for k in kept)
    # The scores reached the callbacks after the trainer's own (a tracker charts them by step).
    assert [log["step"] for log in logs.logs if "eval_entity_f1" in log] == [30, 60]
    assert training_metrics(run_dir)["eval_entity_f1"] == max(f1)


def test_early_stopping_on_val_relation_f1(make_cfg, tmp_path, caplog):
    data = write_data(tmp_path / "data", n_train=8, n_val=4)
    # A few LoRA steps on the tiny random model do not make its answers better: relation F1 stays where it starts,
    # so with patience 2 the run stops at the third evaluation (step 6 of 8).
    cfg = make_cfg([*TINY, "training.max_steps=8", "training.eval_every=0.25", "training.load_best_model=true",
                    "training.best_model_metric=eval_relation_f1", "training.early_stopping_patience=2",
                    "training.val_f1_samples=2", "generation.max_new_tokens=8"])
    run_dir = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="odin"):
        train(cfg, data, run_dir)
    state = _history(run_dir)
    assert state["global_step"] == 6
    assert [h["step"] for h in state["log_history"] if "eval_relation_f1" in h] == [2, 4, 6]
    assert state["best_global_step"] == 2  # nothing beat the first evaluation
    assert "(2 answers in" in caplog.text  # the val sample, not all 4
    assert (run_dir / "final_model" / "adapter_config.json").is_file()


def test_nothing_new_runs_by_default(make_cfg, tmp_path):
    data = write_data(tmp_path / "data", n_train=8, n_val=4)
    cfg = make_cfg([*TINY, "training.max_steps=4", "training.eval_every=0.5"])
    assert str(cfg.training.best_model_metric) == "eval_loss" and cfg.training.early_stopping_patience == 0
    train(cfg, data, tmp_path / "run")
    history = _history(tmp_path / "run")["log_history"]
    assert [h["step"] for h in history if "eval_loss" in h] == [2, 4]
    assert not any("eval_entity_f1" in h for h in history)


def test_val_sample_is_fixed_and_seeded():
    records = note_records(12)
    sample = val_sample(records, 5, seed=42)
    assert len(sample) == 5 and sample == val_sample(records, 5, seed=42)
    assert [records.index(r) for r in sample] == sorted(records.index(r) for r in sample)
    assert val_sample(records, None, 42) == records and val_sample(records, 50, 42) == records


def test_selection_without_a_val_split_is_an_error(make_cfg, tmp_path):
    data = write_data(tmp_path / "data", n_train=8, n_val=0)
    cfg = make_cfg([*TINY, "training.early_stopping_patience=2"])
    with pytest.raises(OdinError, match="training.early_stopping_patience=2: evaluations on the val split are needed"):
        train(cfg, data, tmp_path / "run")


def test_a_sample_size_with_nothing_to_score_is_refused(make_cfg):
    from odin.validate import validate

    with pytest.raises(OdinError, match="training.val_f1_samples=50 .* nothing scores it"):
        validate(make_cfg(["task=train", "model=tiny_random", "training.val_f1_samples=50"]))
    validate(make_cfg(["task=train", "model=tiny_random", "training.val_f1_samples=50", "training.val_f1=true"]))
    with pytest.raises(OdinError, match="training.early_stopping_patience=-1: must be >= 0"):
        validate(make_cfg(["task=train", "model=tiny_random", "training.early_stopping_patience=-1"]))
