"""Seconds per decoding step of odin's batched generation, for a few model/backend variants, on this machine.

    python bench/generate_profile.py --data DIR [--examples 64] [--new-tokens 64] [--profile] VARIANT [...]

A VARIANT is `label:override,override,...` (Hydra overrides on top of +experiment=v16_smollm2_ade), with an
optional `adapter=PATH` among them (a trained final_model/; without it the base model generates). DIR is a prepared
data directory (task=prepare's data/). Each variant loads the model the way task=eval does
(`odin.modeling.adapter.load_for_inference`), generates once to warm up, then times one batch of odin's generation
(`odin.inference.generate_batch`) on the first `--examples` test prompts for up to `--new-tokens` new tokens, and
prints the prefill time and seconds per decoding step. `--profile` adds a torch.profiler table of the first
variant's busiest operators, `--pyprofile` a cProfile table of its Python functions. Run each backend in its own
process: importing Unsloth patches transformers for the rest of it. BENCHMARKS.md has the results.
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


def run_variant(label: str, overrides: list[str], data_dir: Path, examples: int, new_tokens: int,
                profile: bool, pyprofile: bool = False) -> dict:
    import torch

    from odin.data.prepared import read_split
    from odin.decode_speed import prepare_decoding
    from odin.format import build_prompt, split_prompt
    from odin.inference import encode_prompts, generate_batch, generation_config
    from odin.modeling.adapter import load_for_inference

    adapter = next((o.split("=", 1)[1] for o in overrides if o.startswith("adapter=")), None)
    overrides = [o for o in overrides if not o.startswith("adapter=")]
    cfg = variants.compose([*overrides, f"generation.batch_size={examples}"],
                           Path(tempfile.mkdtemp(prefix="odin-gen-profile-")))
    records = read_split(data_dir, "test")[:examples]
    prompts = [build_prompt(r["input"], r["instruction"]) for r in records]
    model, tokenizer = load_for_inference(cfg, Path(adapter) if adapter else None)
    prepare_decoding(model, cfg.generation, str(cfg.model.backend))  # generation.static_cache, as task=eval does

    def sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    encoded = encode_prompts(tokenizer, prompts)
    config = generation_config(model, tokenizer, cfg.generation, new_tokens)
    # generation.grounded=true profiles grounded decoding (odin/grounding.py) on the same batch.
    sources = [split_prompt(p)[1] for p in prompts] if cfg.generation.grounded else None

    def timed(tokens: int) -> tuple[float, int]:
        # One batch as odin.inference.generate runs it; a trained model may stop early, so the steps taken count.
        config.max_new_tokens = tokens
        sync()
        start = time.perf_counter()
        new = generate_batch(model, tokenizer, encoded, config, sources=sources)
        sync()
        return time.perf_counter() - start, new.shape[1]

    timed(4)  # warm-up: kernels compiled or autotuned, caches allocated
    (prefill, _), (total, steps) = timed(1), timed(new_tokens)
    result = {"label": label, "overrides": overrides, "adapter": adapter, "examples": len(prompts),
              "prompt_tokens": max(len(ids) for ids in encoded), "steps": steps, "prefill_s": round(prefill, 3),
              "s_per_step": round((total - prefill) / max(steps - 1, 1), 4), "generate_s": round(total, 2),
              "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None}
    print(json.dumps(result), flush=True)
    if pyprofile:
        # Python's own view of the host side of a step (which functions the time goes to), 16 steps
        import cProfile
        import pstats

        with cProfile.Profile() as prof:
            timed(16)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            timed(8)
        variants.print_profile(prof)
    return result


def main() -> None:
    p = variants.parser(__doc__)
    p.add_argument("--examples", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--pyprofile", action="store_true", help="a cProfile table of the first variant's 16 steps")
    args = p.parse_args()
    variants.import_unsloth_if_used(args.variants)
    from odin.modeling.load import free_gpu

    for i, variant in enumerate(args.variants):
        label, overrides = variants.split(variant)
        run_variant(label, overrides, args.data, args.examples, args.new_tokens, args.profile and i == 0,
                    args.pyprofile and i == 0)
        free_gpu()  # the variant's model went with its frame


if __name__ == "__main__":
    main()
