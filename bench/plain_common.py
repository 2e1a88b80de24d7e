"""What the two plain baseline scripts share (bench/plain_unsloth.py, bench/plain_hf.py): the command line, the data,
the recipe's trainer arguments, and the measurement. No odin training code: the data is odin's prepared train split
(the same sentences odin trains on) and its prompt template (`odin.format.build_prompt`, so the token counts match);
the rest is what a person writes from the libraries' documentation.

What is measured, the same way in both scripts and in bench/train_step_profile.py:
- s/step: wall time of `--steps` optimizer steps after `--warmup` steps, the GPU synchronized at both marks;
- real tokens/s: the tokens of the examples those steps trained on (padding not counted), read as the collator
  builds each micro-batch, divided by that time;
- peak GPU memory: torch's allocated and reserved maxima over the run (the base model's weights included).

Nothing heavy is imported at the top: plain_unsloth.py must import Unsloth before transformers and TRL.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

# (per-device batch, gradient accumulation): sentences per optimizer step = the product.
RECIPES = {
    "original": (2, 8),  # the original project's recipe: 16 sentences a step in micro-batches of 2, padded
    "b32": (32, 1),  # 32 sentences a step in one padded batch, random order (odin's batch size, not its grouping)
}
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SEED = 3407  # the seed of Unsloth's notebooks, which the original project copied


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a model directory (config.json + weights + tokenizer)")
    p.add_argument("--data", type=Path, required=True, help="a prepared data directory holding train.jsonl")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="original")
    p.add_argument("--steps", type=int, default=10, help="optimizer steps timed")
    p.add_argument("--warmup", type=int, default=3, help="optimizer steps before the clock starts")
    p.add_argument("--max-seq-length", type=int, default=512, help="longer examples are dropped")
    p.add_argument("--rank", type=int, default=32, help="LoRA rank (alpha equals it)")
    p.add_argument("--no-4bit", dest="four_bit", action="store_false", help="bf16/fp32 weights (CPU tests)")
    p.add_argument("--no-gradient-checkpointing", dest="checkpointing", action="store_false")
    p.add_argument("--padding-free", action="store_true",
                   help="TRL's padding_free batches (Unsloth turns them on by itself when not told otherwise)")
    p.add_argument("--label", default=None, help="a name for the JSON line (default: script and recipe)")
    return p


def read_texts(data_dir: Path) -> list[str]:
    """Prompt + answer of every training example, in the template odin trains and generates with."""
    from odin.format import build_prompt

    texts = []
    with open(Path(data_dir) / "train.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                texts.append(build_prompt(rec["input"], rec["instruction"]) + rec["output"])
    return texts


def tokenized_dataset(texts: list[str], tokenizer, max_seq_length: int):
    """A `datasets.Dataset` of input_ids (text + EOS); longer examples are dropped, as odin drops them."""
    from datasets import Dataset

    ids = [list(x) + [tokenizer.eos_token_id] for x in tokenizer(texts)["input_ids"]]
    kept = [x for x in ids if len(x) <= max_seq_length]
    return Dataset.from_dict({"input_ids": kept}), len(ids) - len(kept)


def sft_args(args, output_dir: str, cuda: bool, **extra):
    """TRL's SFTConfig for the recipe: 8-bit AdamW, lr 2e-4, linear decay, bf16, full-sequence loss, padded batches."""
    from trl import SFTConfig

    batch, accumulation = RECIPES[args.recipe]
    return SFTConfig(
        output_dir=output_dir,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accumulation,
        max_steps=args.warmup + args.steps,
        learning_rate=2e-4,
        lr_scheduler_type="linear",
        warmup_steps=min(5, args.warmup),
        weight_decay=0.01,
        optim="adamw_8bit" if cuda else "adamw_torch",
        bf16=cuda,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=SEED,
        max_length=None if args.padding_free else args.max_seq_length,
        packing=False,
        padding_free=bool(args.padding_free),
        dataloader_num_workers=0,
        use_cpu=not cuda,
        **extra,
    )


class TokenCount:
    """Wraps a data collator: the real (non-pad) tokens of each micro-batch, in the order the trainer takes them."""

    def __init__(self, collate):
        self.collate = collate
        self.per_batch: list[int] = []

    def __call__(self, features):
        self.per_batch.append(sum(len(f["input_ids"]) for f in features))
        return self.collate(features)

    def tokens(self, first_step: int, last_step: int, accumulation: int) -> int:
        """Tokens of optimizer steps first_step+1 .. last_step (the micro-batches those steps consumed)."""
        return sum(self.per_batch[first_step * accumulation:last_step * accumulation])


def step_clock(warmup: int, steps: int):
    """A TrainerCallback noting the time (after a GPU sync) when step `warmup` and step `warmup + steps` end."""
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        marks: dict[int, float] = {}

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in (warmup, warmup + steps):
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.marks[state.global_step] = time.perf_counter()

    return StepClock()


def measure(trainer, args, label: str, dropped: int) -> dict:
    """Train the recipe's steps and return the JSON line's numbers."""
    import torch

    counter = TokenCount(trainer.data_collator)
    trainer.data_collator = counter
    clock = step_clock(args.warmup, args.steps)
    trainer.add_callback(clock)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    seconds = clock.marks[args.warmup + args.steps] - clock.marks[args.warmup]
    batch, accumulation = RECIPES[args.recipe]
    tokens = counter.tokens(args.warmup, args.warmup + args.steps, accumulation)
    # TRL's own count of non-pad tokens (logged every step), as a check on ours; Unsloth's trainer keeps none.
    logged = {h["step"]: h["num_tokens"] for h in trainer.state.log_history if "num_tokens" in h}
    ends = (args.warmup, args.warmup + args.steps)
    trainer_tokens = logged[ends[1]] - logged[ends[0]] if all(e in logged for e in ends) else None
    return {
        "label": label, "recipe": args.recipe, "per_device_batch_size": batch,
        "gradient_accumulation_steps": accumulation, "sentences_per_step": batch * accumulation,
        "steps": args.steps, "warmup": args.warmup, "s_per_step": round(seconds / args.steps, 4),
        "real_tokens": tokens, "real_tokens_per_s": round(tokens / seconds, 1),
        "trainer_counted_tokens": trainer_tokens,
        "dropped_too_long": dropped, "padding_free": bool(args.padding_free), "four_bit": bool(args.four_bit),
        "gradient_checkpointing": bool(args.checkpointing), "lora_rank": args.rank,
        "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2) if cuda else None,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
    }


def emit(result: dict) -> None:
    print(json.dumps(result), flush=True)
