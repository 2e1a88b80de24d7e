"""`python -m odin <args>` as torchrun starts it on each rank, with a record of what the rank did (for
tests/test_distributed.py): the training batches it was given, its adapter weights when training ended, and the
prompts it generated answers for. The record goes to $ODIN_TEST_RECORD/rank<N>.pt, outside the run directory."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import TrainerCallback

import odin.inference
from odin.modeling import sft

RECORD = Path(os.environ["ODIN_TEST_RECORD"])
RANK = int(os.environ["RANK"])
seen: dict = {"batches": [], "generated": [], "weights": None}


class KeepWeights(TrainerCallback):
    def on_train_end(self, args, state, control, model=None, **kwargs):
        seen["weights"] = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


build_trainer = sft.build_trainer


def build_recorded_trainer(*args, callbacks=(), **kwargs):
    trainer = build_trainer(*args, callbacks=[*callbacks, KeepWeights()], **kwargs)
    compute_loss = trainer.compute_loss

    def compute_and_record(model, inputs, *rest, **options):
        if model.training:  # the training batches this rank got (evaluation batches are not recorded)
            rows = zip(inputs["input_ids"].tolist(), inputs["attention_mask"].tolist())
            seen["batches"].append([tuple(t for t, m in zip(ids, mask) if m) for ids, mask in rows])
        return compute_loss(model, inputs, *rest, **options)

    trainer.compute_loss = compute_and_record
    return trainer


generate = odin.inference.generate


def generate_recorded(model, tokenizer, prompts, *args, **kwargs):
    answers = generate(model, tokenizer, prompts, *args, **kwargs)
    seen["generated"].extend(zip(prompts, answers))
    return answers


sft.build_trainer = build_recorded_trainer
odin.inference.generate = generate_recorded

if __name__ == "__main__":
    import runpy

    try:
        runpy.run_module("odin", run_name="__main__")  # as `python -m odin` runs (Hydra finds conf/ beside it)
    finally:
        RECORD.mkdir(parents=True, exist_ok=True)
        torch.save(seen, RECORD / f"rank{RANK}.pt")
