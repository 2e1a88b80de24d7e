"""A plain Unsloth QLoRA training script, as Unsloth's notebooks (and the original project) write it: the baseline for
odin's `unsloth` backend.

    python bench/plain_unsloth.py --model DIR --data DIR [--recipe original|b32] [--steps 10] [--warmup 3]

FastLanguageModel in 4-bit, LoRA r32/alpha32 on all seven projections with Unsloth's gradient checkpointing, TRL's
SFTTrainer (as Unsloth patches it) on prompt + answer (+ EOS) with the loss over the whole sequence, padded batches
in random order, 8-bit AdamW, lr 2e-4, bf16. Unsloth turns padding-free batching on by itself when the config leaves
it unset; the recipe is padded, so the script says `padding_free=False` unless `--padding-free`. CUDA only. Prints
one JSON line (bench/plain_common.py says what is measured).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import plain_common  # bench/plain_common.py, beside this script (imports nothing heavy)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> dict:
    args = plain_common.parser(__doc__).parse_args(argv)
    import unsloth  # noqa: F401  (first: it patches transformers, PEFT and TRL)
    from unsloth import FastLanguageModel
    from trl import SFTTrainer

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=args.model, max_seq_length=args.max_seq_length, dtype=None, load_in_4bit=args.four_bit)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    checkpointing = "unsloth" if args.checkpointing else False
    model = FastLanguageModel.get_peft_model(
        model, r=args.rank, lora_alpha=args.rank, lora_dropout=0, bias="none",
        target_modules=plain_common.TARGET_MODULES, use_gradient_checkpointing=checkpointing,
        random_state=plain_common.SEED)
    dataset, dropped = plain_common.tokenized_dataset(plain_common.read_texts(args.data), tokenizer,
                                                      args.max_seq_length)
    config = plain_common.sft_args(args, tempfile.mkdtemp(prefix="plain-unsloth-"), cuda=True)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    result = plain_common.measure(trainer, args, args.label or f"plain_unsloth_{args.recipe}", dropped)
    plain_common.emit(result)
    return result


if __name__ == "__main__":
    main()
