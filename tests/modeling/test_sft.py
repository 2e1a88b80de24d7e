"""The shared training pieces on the tiny random Llama: tokenization, masking of the collated batch, the loss,
packing, and how cfg.training turns into trainer arguments."""

from __future__ import annotations

import importlib.util
import logging

import pytest
import torch
from omegaconf import open_dict

from odin.errors import OdinError
from odin.format import build_prompt
from odin.modeling import sft, speed
from odin.modeling.backends import load_for_training, resolve_backend
from odin.modeling.load import load_tokenizer
from training_notes import TINY, note_records


@pytest.fixture
def tiny(make_cfg):
    def _make(overrides=()):
        cfg = make_cfg([*TINY, *overrides])
        tokenizer = load_tokenizer(cfg.model, cfg.paths.cache_dir)
        return cfg, tokenizer

    return _make


def _trainer(cfg, tokenizer, records, tmp_path):
    train_ds = sft.build_dataset(records, tokenizer, cfg.model.max_seq_length, "train")
    model = load_for_training(cfg, "hf", tokenizer)
    return sft.build_trainer(cfg, model, tokenizer, train_ds, None, tmp_path / "run", backend="hf")


def test_prompt_is_tokenized_as_at_inference_and_answer_ends_with_one_eos(tiny):
    cfg, tok = tiny()
    records = note_records(3)
    for rec, (prompt_ids, answer_ids) in zip(records, sft.encode(records, tok), strict=True):
        assert prompt_ids == tok(build_prompt(rec["input"], rec["instruction"]))["input_ids"]
        assert answer_ids[-1] == tok.eos_token_id and answer_ids.count(tok.eos_token_id) == 1
        assert tok.decode(answer_ids[:-1]) == rec["output"]


@pytest.mark.parametrize("completion_only", [True, False])
@pytest.mark.parametrize("pad_is_eos", [False, True])
def test_collated_batch_masks_prompt_and_padding_but_keeps_the_answer_and_eos(tiny, tmp_path, completion_only,
                                                                               pad_is_eos):
    cfg, tok = tiny([f"training.completion_only_loss={completion_only}"])
    if pad_is_eos:  # as with SmolLM2, whose tokenizer pads with its EOS token
        tok.pad_token = tok.eos_token
    records = [note_records(1)[0], note_records(1, offset=2)[0]]
    encoded = sft.encode(records, tok)
    trainer = _trainer(cfg, tok, records, tmp_path)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    width = batch["input_ids"].shape[1]
    assert width == max(len(p) + len(a) for p, a in encoded)
    for row, (prompt_ids, answer_ids) in enumerate(encoded):
        n_prompt, n = len(prompt_ids), len(prompt_ids) + len(answer_ids)
        ids, labels = batch["input_ids"][row].tolist(), batch["labels"][row].tolist()
        assert ids[:n] == prompt_ids + answer_ids
        expected_prompt = [-100] * n_prompt if completion_only else prompt_ids
        assert labels[:n_prompt] == expected_prompt
        assert labels[n_prompt:n] == answer_ids  # the answer, EOS included, is learned
        assert labels[n:] == [-100] * (width - n)  # padding never is, even when it is the EOS token
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (width - n)


def test_loss_through_labeled_positions_equals_the_models_own_loss(tiny, tmp_path):
    cfg, tok = tiny()
    trainer = _trainer(cfg, tok, note_records(4), tmp_path)
    model = trainer.model
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    batch = {k: v.to(model.device) for k, v in batch.items()}
    with torch.no_grad():
        ours = sft.labeled_positions_loss(model, batch)
        reference = model(**batch).loss
        summed = sft.labeled_positions_loss(model, batch, num_items_in_batch=1)
    assert torch.allclose(ours, reference, atol=1e-5)
    n_labels = (batch["labels"][:, 1:] != -100).sum()
    assert torch.allclose(summed, reference * n_labels, rtol=1e-4)


def test_packing_puts_several_examples_in_a_row_without_attention_between_them(tiny, tmp_path):
    cfg, tok = tiny(["training.packing=true"])
    records = note_records(6)
    trainer = _trainer(cfg, tok, records, tmp_path)
    assert len(trainer.train_dataset) < len(records)  # rows hold more than one example
    rows = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    packed = trainer.data_collator(rows)
    assert "attention_mask" not in packed and "position_ids" in packed
    model = trainer.model
    packed = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in packed.items()}
    with torch.no_grad():
        packed_total = sft.labeled_positions_loss(model, packed, num_items_in_batch=1)
        separate_total = 0.0
        for prompt_ids, answer_ids in sft.encode(records, tok):
            one = {"input_ids": torch.tensor([prompt_ids + answer_ids]),
                   "attention_mask": torch.ones(1, len(prompt_ids) + len(answer_ids), dtype=torch.long)}
            one["labels"] = torch.tensor([[-100] * len(prompt_ids) + answer_ids])
            one = {k: v.to(model.device) for k, v in one.items()}
            separate_total += sft.labeled_positions_loss(model, one, num_items_in_batch=1)
    # Equal sums: no token attended to another example of its row (the sdpa path gets a block-diagonal mask).
    assert torch.allclose(packed_total, torch.as_tensor(separate_total), rtol=1e-4)


def test_examples_longer_than_max_seq_length_are_dropped_and_counted(tiny, caplog):
    cfg, tok = tiny()
    records = note_records(4)
    records[1] = {**records[1], "input": "enalapril " * 300}
    with caplog.at_level(logging.WARNING, logger="odin"):
        ds = sft.build_dataset(records, tok, 256, "train")
    assert len(ds) == 3 and all(len(ids) <= 256 for ids in ds["input_ids"])
    assert "dropped 1 of 4 examples longer than model.max_seq_length=256" in caplog.text


def test_training_config_reaches_the_trainer_arguments(make_cfg, tmp_path):
    cfg = make_cfg([*TINY, "training=default", "training.max_steps=-1", "training.epochs=2",
                    "training.per_device_batch_size=3", "training.gradient_accumulation_steps=5",
                    "training.learning_rate=3e-4", "training.lr_scheduler=cosine", "training.warmup_steps=7",
                    "training.weight_decay=0.05", "training.max_grad_norm=0.7", "training.save_total_limit=2",
                    "training.seed=11", "training.logging_steps=4", "training.group_by_length=true"])
    args = sft.sft_config(cfg, tmp_path, has_eval=True, cuda=False, backend="hf")
    assert (args.num_train_epochs, args.max_steps) == (2.0, -1)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (3, 5)
    assert (args.learning_rate, args.lr_scheduler_type.value, args.warmup_steps) == (3e-4, "cosine", 7)
    assert (args.weight_decay, args.max_grad_norm, args.save_total_limit, args.seed) == (0.05, 0.7, 2, 11)
    assert args.logging_steps == 4 and args.train_sampling_strategy == "group_by_length"
    assert args.optim.value == "adamw_torch"  # adamw_8bit needs bitsandbytes on CUDA
    assert not args.bf16 and not args.fp16  # float32 on CPU
    assert args.gradient_checkpointing and args.load_best_model_at_end and args.metric_for_best_model == "eval_loss"
    assert args.max_length == cfg.model.max_seq_length and args.report_to == []
    # Explicit, not TRL's default: Unsloth's SFTConfig leaves it unset and then picks padding-free on its own.
    assert args.packing is False and args.padding_free is False
    assert not sft.sft_config(cfg, tmp_path, has_eval=False, cuda=False, backend="hf").load_best_model_at_end
    assert not sft.sft_config(cfg, tmp_path, has_eval=True, cuda=False, backend="unsloth").gradient_checkpointing


@pytest.mark.parametrize("switch", ["packing", "padding_free"])
def test_padding_free_batches_without_flash_or_flex_attention_on_cuda_warn_that_they_cost_time(
        make_cfg, tmp_path, caplog, switch):
    cfg = make_cfg([*TINY, f"training.{switch}=true"])
    with caplog.at_level(logging.INFO, logger="odin"):
        sft.sft_config(cfg, tmp_path, has_eval=False, cuda=False, backend="hf")
    assert "without flash or flex attention" not in caplog.text  # on CPU the masked loss is cheap and exact
    with caplog.at_level(logging.INFO, logger="odin"):
        sft.sft_config(cfg, tmp_path, has_eval=False, cuda=True, backend="hf")
    assert f"training.{switch} without flash or flex attention" in caplog.text
    assert "model.attn_implementation=flex_attention" in caplog.text
    caplog.clear()
    with open_dict(cfg):
        cfg.model.attn_implementation = "flex_attention"
    with caplog.at_level(logging.INFO, logger="odin"):
        sft.sft_config(cfg, tmp_path, has_eval=False, cuda=True, backend="hf")
    assert "without flash or flex attention" not in caplog.text


def _padding_free_and_padded(tiny, tmp_path, records):
    """The same examples collated both ways, by the trainers the two settings build (one model)."""
    cfg_free, tok = tiny(["training.padding_free=true"])
    cfg_padded, _ = tiny()
    free = _trainer(cfg_free, tok, records, tmp_path / "free")
    padded = sft.build_trainer(cfg_padded, free.model, tok, free.train_dataset, None, tmp_path / "padded",
                               backend="hf")
    rows = [free.train_dataset[i] for i in range(len(records))]
    return free, padded.data_collator(rows), free.data_collator(rows)


def test_padding_free_batch_is_one_sequence_whose_loss_equals_the_padded_batchs(tiny, tmp_path):
    records = note_records(5)
    trainer, padded, flat = _padding_free_and_padded(tiny, tmp_path, records)
    model = trainer.model
    lengths = [len(p) + len(a) for p, a in sft.encode(records, trainer.processing_class)]
    assert "attention_mask" not in flat and flat["input_ids"].shape == (1, sum(lengths))
    starts = (flat["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert starts == [sum(lengths[:i]) for i in range(len(lengths))]  # positions restart at every example
    assert padded["input_ids"].shape == (5, max(lengths)) and padded["attention_mask"].sum() == sum(lengths)
    with torch.no_grad():
        padded_loss = sft.labeled_positions_loss(model, padded)
        flat_loss = sft.labeled_positions_loss(model, flat)
        # The control: the same flat sequence without its position ids lets every token attend to the examples
        # before it, and the loss moves; the test above can tell.
        crossing = {k: v for k, v in flat.items() if k in ("input_ids", "labels")}
        crossing_loss = sft.labeled_positions_loss(model, crossing)
        model_loss = model(**{k: flat[k] for k in ("input_ids", "labels", "position_ids")}).loss
    assert torch.allclose(flat_loss, padded_loss, rtol=1e-5, atol=1e-6)
    assert torch.allclose(model_loss, padded_loss, rtol=1e-5, atol=1e-6)  # the model's own masks agree
    assert not torch.allclose(crossing_loss, padded_loss, rtol=1e-3)


def test_padding_free_trains_and_rounds_lengths_when_asked(tiny, tmp_path):
    cfg, tok = tiny(["training.padding_free=true", "training.pad_to_multiple_of=64", "training.max_steps=2"])
    trainer = _trainer(cfg, tok, note_records(6), tmp_path)
    assert trainer.args.padding_free and trainer.args.max_length is None  # examples were cut to length already
    flat = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert flat["input_ids"].shape[1] % 64 == 0 and (flat["labels"] != -100).sum() > 0
    trainer.train()
    assert trainer.state.global_step == 2 and all(torch.isfinite(torch.tensor(h["loss"]))
                                                  for h in trainer.state.log_history if "loss" in h)


def test_liger_kernel_switch_names_what_is_missing(make_cfg, tmp_path):
    cfg = make_cfg([*TINY, "training.use_liger_kernel=true"])
    with pytest.raises(OdinError, match="needs a CUDA GPU .* training.use_liger_kernel=false"):
        sft.sft_config(cfg, tmp_path, has_eval=False, cuda=False, backend="hf")
    with pytest.raises(OdinError, match="model.backend=hf"):
        speed.check_liger(cuda=True, backend="unsloth")
    if importlib.util.find_spec("liger_kernel") is None:
        with pytest.raises(OdinError, match="pip install liger-kernel"):
            speed.check_liger(cuda=True, backend="hf")
    from odin.tasks.train import check_libraries  # before any work: the run stops before training

    with pytest.raises(OdinError, match="training.use_liger_kernel=true needs a CUDA GPU"):
        check_libraries(cfg)


def test_step_log_line_has_a_token_rate_only_when_the_trainer_counts_tokens(caplog):
    from types import SimpleNamespace

    logger, state = sft.step_logger(), SimpleNamespace(global_step=10, max_steps=20, epoch=0.5)
    logger.on_train_begin(None, state, None)
    with caplog.at_level(logging.INFO, logger="odin"):
        logger.on_log(None, state, None, logs={"loss": 0.5, "learning_rate": 1e-4, "num_tokens": 1000})
        logger.on_log(None, state, None, logs={"loss": 0.4, "learning_rate": 1e-4})  # Unsloth's trainer
    first, second = [r.getMessage() for r in caplog.records]
    assert "tok/s" in first and "loss 0.5000" in first
    assert "tok/s" not in second and "loss 0.4000" in second


def test_eval_interval_is_in_epochs_or_a_fraction_of_max_steps(make_cfg):
    cfg = make_cfg([*TINY, "training.max_steps=-1", "training.per_device_batch_size=4",
                    "training.gradient_accumulation_steps=2", "training.eval_every=0.5"])
    assert sft.steps_per_epoch(100, cfg.training) == 13  # 25 batches, 2 per optimizer step
    assert sft.eval_interval(100, cfg.training) == 6  # round(0.5 * 13)
    with open_dict(cfg):
        cfg.training.max_steps = 40
    assert sft.eval_interval(100, cfg.training) == 20
    with open_dict(cfg):
        cfg.training.eval_every = 3.0
    assert sft.eval_interval(100, cfg.training) == 40  # never past the end of the run
    with open_dict(cfg):
        cfg.training.max_steps, cfg.training.eval_every = -1, 0.5
    # Two DDP ranks each take a batch per step: an epoch is half the steps.
    assert sft.steps_per_epoch(100, cfg.training, world_size=2) == 7 and sft.eval_interval(100, cfg.training, 2) == 4


def test_optimizer_falls_back_without_cuda_and_unknown_names_fail():
    assert sft.choose_optimizer("adamw_8bit", cuda=False) == "adamw_torch"
    assert sft.choose_optimizer("adamw_torch", cuda=False) == "adamw_torch"
    with pytest.raises(OdinError, match="training.optimizer='adam_w'"):
        sft.choose_optimizer("adam_w", cuda=False)


def test_unknown_scheduler_is_a_clear_error(make_cfg, tmp_path):
    cfg = make_cfg([*TINY, "training.lr_scheduler=cosine_annealing"])
    with pytest.raises(OdinError, match="training.lr_scheduler='cosine_annealing'"):
        sft.sft_config(cfg, tmp_path, has_eval=False, cuda=False, backend="hf")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU behaviour")
def test_backend_auto_is_hf_without_cuda_and_unsloth_needs_cuda(make_cfg):
    assert resolve_backend(make_cfg([*TINY, "model.backend=auto"]).model) == "hf"  # overrides TINY's hf
    assert resolve_backend(make_cfg([*TINY, "model.backend=hf"]).model) == "hf"
    with pytest.raises(OdinError, match="needs a CUDA GPU.*model.backend=hf"):
        resolve_backend(make_cfg([*TINY, "model.backend=unsloth"]).model)


def test_backend_auto_on_a_gpu_without_unsloth_says_so_once(make_cfg, monkeypatch, caplog):
    from odin.modeling import backends

    monkeypatch.setattr(backends, "_cuda", lambda: True)
    real_find_spec = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec",
                        lambda name, *a: None if name == "unsloth" else real_find_spec(name, *a))
    backends._resolve.cache_clear()  # resolved once per process: forget this process's real answer
    model_cfg = make_cfg([*TINY, "model.backend=auto"]).model
    with caplog.at_level(logging.INFO, logger="odin"):
        # asked again (a pipeline's train and eval steps), it answers from memory
        assert [resolve_backend(model_cfg) for _ in range(3)] == ["hf"] * 3
    backends._resolve.cache_clear()  # later tests see the real machine again
    assert caplog.text.count("Unsloth is not installed") == 1


def test_backend_auto_trains_a_full_fine_tune_through_transformers_even_with_unsloth_there(make_cfg, monkeypatch,
                                                                                              caplog):
    from odin.modeling import backends

    # A GPU machine with Unsloth installed: auto takes Unsloth for LoRA, and must not for full fine-tuning (Unsloth
    # recompiled a fully fine-tuned step at every step), nor even import it.
    monkeypatch.setattr(backends, "_cuda", lambda: True)
    real_find_spec = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec",
                        lambda name, *a: object() if name == "unsloth" else real_find_spec(name, *a))
    imported = []
    monkeypatch.setattr(backends, "_import_unsloth", lambda: imported.append("unsloth"))
    backends._resolve.cache_clear()
    try:
        full = make_cfg([*TINY, "model.backend=auto", "lora=none"])
        with caplog.at_level(logging.INFO, logger="odin"):
            assert resolve_backend(full.model, not full.lora.enabled) == "hf"
        assert imported == [] and "full fine-tuning (lora.enabled=false) trains through transformers" in caplog.text
        lora = make_cfg([*TINY, "model.backend=auto"])
        assert resolve_backend(lora.model, not lora.lora.enabled) == "unsloth" and imported == ["unsloth"]
        # Asked for by name, Unsloth still trains a full fine-tune.
        assert resolve_backend(make_cfg([*TINY, "model.backend=unsloth", "lora=none"]).model, True) == "unsloth"
    finally:
        backends._resolve.cache_clear()  # later tests see the real machine again


# Unsloth 2026.10.9's own requirement lines (its METADATA), markers and exclusions included.
UNSLOTH_REQUIRES = [
    "torch>=2.4.0",
    "transformers!=4.53.0,!=4.57.4,!=5.0.0,!=5.1.0,<=5.17.0,>=4.52.4",
    'transformers!=4.53.0,<=5.17.0,>=4.52.4; extra == "huggingface"',
]


@pytest.mark.parametrize(("installed", "outside"), [("5.17.0", False), ("4.52.4", False), ("5.24.0", True),
                                                    ("5.0.0", True), ("4.40.0", True)])
def test_transformers_outside_the_range_unsloth_declares(installed, outside):
    from odin.modeling.backends import transformers_outside

    found = transformers_outside(UNSLOTH_REQUIRES, installed)
    assert (found is not None) == outside
    if outside:
        assert "<=5.17.0" in found and ">=4.52.4" in found
    assert transformers_outside(["peft>=0.10"], installed) is None  # no transformers line: nothing to say
    assert transformers_outside(None, installed) is None


def test_unsloth_outside_its_transformers_range_warns_with_the_fix(monkeypatch, caplog):
    from importlib import metadata

    from odin.modeling import backends

    versions = {"transformers": "5.24.0", "unsloth": "2026.10.9"}
    monkeypatch.setattr(metadata, "version", lambda name: versions[name])
    monkeypatch.setattr(metadata, "requires", lambda name: UNSLOTH_REQUIRES if name == "unsloth" else [])
    with caplog.at_level(logging.WARNING, logger="odin"):
        backends._check_unsloth_transformers()  # runs once per process, inside the cached backend resolution
    assert caplog.text.count("Unsloth 2026.10.9 supports transformers") == 1
    assert "transformers 5.24.0" in caplog.text and "<=5.17.0" in caplog.text and "model.backend=hf" in caplog.text
    versions["transformers"] = "5.17.0"
    caplog.clear()
    backends._check_unsloth_transformers()
    assert "supports transformers" not in caplog.text
