"""A plain transformers + PEFT + bitsandbytes QLoRA training script: the baseline for odin's `hf` backend.

    python bench/plain_hf.py --model DIR --data DIR [--recipe original|b32] [--steps 10] [--warmup 3]

The model in 4-bit NF4 (double quantization, bf16 compute), PEFT's k-bit preparation, LoRA r32/alpha32 on all seven
projections, TRL's SFTTrainer on prompt + answer (+ EOS) with the loss over the whole sequence, padded batches in
random order, 8-bit AdamW, lr 2e-4, bf16, gradient checkpointing. Prints one JSON line (bench/plain_common.py says
what is measured). `--no-4bit` loads the weights unquantized (the CPU tests: bitsandbytes needs CUDA).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import plain_common  # bench/plain_common.py, beside this script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> dict:
    args = plain_common.parser(__doc__).parse_args(argv)
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTTrainer

    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict = {"dtype": torch.bfloat16 if cuda else torch.float32}
    if args.four_bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(args.model, **kwargs)
    if args.four_bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.checkpointing)
    elif cuda:
        model.to("cuda")
    model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=args.rank, lora_dropout=0.0, bias="none",
                                             target_modules=plain_common.TARGET_MODULES, task_type="CAUSAL_LM"))
    dataset, dropped = plain_common.tokenized_dataset(plain_common.read_texts(args.data), tokenizer,
                                                      args.max_seq_length)
    config = plain_common.sft_args(args, tempfile.mkdtemp(prefix="plain-hf-"), cuda,
                                   gradient_checkpointing=args.checkpointing)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    result = plain_common.measure(trainer, args, args.label or f"plain_hf_{args.recipe}", dropped)
    plain_common.emit(result)
    return result


if __name__ == "__main__":
    main()
