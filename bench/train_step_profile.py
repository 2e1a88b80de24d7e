"""Seconds per optimizer step of odin's training loop, for a few recipe variants, on the machine it runs on.

    python bench/train_step_profile.py --data DIR [--steps 40] [--warmup 5] [--profile] VARIANT [VARIANT ...]
    torchrun --nproc-per-node 2 bench/train_step_profile.py --data DIR ...      (DDP: one line for all ranks)

A VARIANT is `label:override,override,...` (Hydra overrides on top of +experiment=v16_smollm2_ade) with an
optional `loss=trl|odin` among them: which loss the hf backend's trainer computes on CUDA (TRL's fused LM head, or
odin's `labeled_positions_loss`; the unsloth backend always uses its own). DIR is a prepared data directory
(task=prepare's data/). Each variant loads the model, trains `--steps` steps after `--warmup` steps (no evaluation,
no checkpoints) and prints one JSON line: s/step, the 3-epoch time it projects, real (non-pad) tokens/s counted as
bench/plain_common.py counts them for the plain baselines (summed over ranks under torchrun), and peak GPU memory;
`--profile` adds a torch.profiler table of the first variant's busiest operators. BENCHMARKS.md has the results.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import variants  # bench/variants.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_variant(label: str, overrides: list[str], data_dir: Path, steps: int, profile: bool, warmup: int = 5) -> dict:
    import torch
    from transformers import TrainerCallback

    from plain_common import TokenCount
    from odin import distributed
    from odin.data.prepared import read_split
    from odin.modeling import sft
    from odin.modeling.backends import load_for_training, resolve_backend
    from odin.modeling.load import load_tokenizer

    loss = next((o.split("=", 1)[1] for o in overrides if o.startswith("loss=")), "default")
    overrides = [o for o in overrides if not o.startswith("loss=")]
    tmp = tempfile.mkdtemp(prefix="odin-step-profile-")
    cfg = variants.compose([*overrides, f"training.max_steps={warmup + steps}", "training.eval_every=1.0",
                   "training.load_best_model=false"], Path(tmp))
    backend = resolve_backend(cfg.model, not cfg.lora.enabled)
    if loss != "default":
        sft.fused_loss_available = lambda cuda: loss == "trl" and cuda
    tokenizer = load_tokenizer(cfg.model, cfg.paths.cache_dir, padding_side="right")
    train_ds = sft.build_dataset(read_split(data_dir, "train"), tokenizer, int(cfg.model.max_seq_length), "train")
    model = load_for_training(cfg, backend, tokenizer)

    class Clock(TrainerCallback):
        marks: dict[int, float] = {}

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in (warmup, warmup + steps):
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.marks[state.global_step] = time.perf_counter()
            if prof is not None and state.global_step == warmup + min(10, steps):
                prof.stop()

    prof = None
    trainer = sft.build_trainer(cfg, model, tokenizer, train_ds, None, Path(tmp), backend=backend,
                                callbacks=[Clock()])
    trainer.args.save_strategy = "no"
    counter = TokenCount(trainer.data_collator)
    trainer.data_collator = counter
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        prof = torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])

        class StartProfile(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == warmup:
                    prof.start()

        trainer.add_callback(StartProfile())
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    seconds = (Clock.marks[warmup + steps] - Clock.marks[warmup]) / steps
    accumulation = cfg.training.gradient_accumulation_steps
    world = distributed.world_size()
    rows = cfg.training.per_device_batch_size * accumulation * world
    tokens = _sum_over_ranks(counter.tokens(warmup, warmup + steps, accumulation))
    result = {"label": label, "overrides": overrides, "loss": loss, "backend": backend, "world_size": world,
              "s_per_step": round(seconds, 4), "rows_per_step": rows, "warmup": warmup, "steps": steps,
              "real_tokens": tokens, "real_tokens_per_s": round(tokens / (seconds * steps), 1),
              "steps_per_3_epochs": 3 * sft.steps_per_epoch(len(trainer.train_dataset), cfg.training, world),
              "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
              "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2) if cuda else None,
              "device": torch.cuda.get_device_name() if cuda else "cpu"}
    result["projected_train_s"] = round(result["steps_per_3_epochs"] * seconds, 1)
    if distributed.is_main_process():
        print(json.dumps(result), flush=True)
    if prof is not None and distributed.is_main_process():
        variants.print_profile(prof)
    return result


def _sum_over_ranks(value: int) -> int:
    from odin import distributed

    if not distributed.is_distributed():
        return value
    import torch
    import torch.distributed as dist

    total = torch.tensor([value], dtype=torch.long)  # over gloo, beside NCCL (odin.distributed)
    dist.all_reduce(total)
    return int(total.item())


def main() -> None:
    p = variants.parser(__doc__)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args()
    variants.import_unsloth_if_used(args.variants)
    from odin import distributed
    from odin.modeling.load import free_gpu

    if distributed.is_distributed():
        distributed.init_process_group()  # before any CUDA work: each rank on its own GPU
    for i, variant in enumerate(args.variants):
        label, overrides = variants.split(variant)
        run_variant(label, overrides, args.data, args.steps, args.profile and i == 0, args.warmup)
        free_gpu()  # the variant's model went with its frame
    distributed.shutdown()


if __name__ == "__main__":
    main()
