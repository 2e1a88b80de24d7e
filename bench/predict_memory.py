"""Peak memory of task=predict against the size of its input: streaming should hold it flat (issue 14).

    python bench/predict_memory.py [--sizes 1000 10000] [--chunk-size 1024] [--new-tokens 8]

Trains a smoke adapter on `model=tiny_random` (CPU, seconds), writes an input file of N distinct clinical-style
sentences for each size, runs `python -m odin task=predict` on it in a process of its own, and prints one JSON line
per size: texts, wall seconds, the predict process's peak resident memory (`/usr/bin/time -f %M`) and the output
lines. The model is tiny, so the numbers show what the input and output cost, not what a real model's weights do.
BENCHMARKS.md has the numbers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRUGS = ["enalapril", "aspirin", "metformin", "warfarin", "amoxicillin", "ibuprofen", "lithium", "heparin"]
EFFECTS = ["acute renal failure", "a rash", "lactic acidosis", "bleeding", "a cough", "nausea", "tremor", "priapism"]


def odin(*overrides: str, timed: bool = False) -> tuple[subprocess.CompletedProcess, float]:
    cmd = [sys.executable, "-m", "odin", "model=tiny_random", "tracking=none", *overrides]
    if timed:
        cmd = ["/usr/bin/time", "-f", "peak_rss_kib=%M", *cmd]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return proc, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--chunk-size", type=int, default=1024)
    ap.add_argument("--new-tokens", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        odin("training=smoke", f"hydra.run.dir={tmp / 'train'}")
        model_dir = tmp / "train" / "final_model"
        for n in args.sizes:
            notes = tmp / f"notes_{n}.txt"
            with open(notes, "w", encoding="utf-8") as f:
                for i in range(n):
                    f.write(f"Patient {i} developed {EFFECTS[i % 8]} after {DRUGS[(i // 8) % 8]} was started.\n")
            out = tmp / f"pred_{n}.jsonl"
            proc, wall = odin("task=predict", f"predict.model_dir={model_dir}", f"predict.input_file={notes}",
                              f"predict.output_file={out}", f"predict.chunk_size={args.chunk_size}",
                              f"generation.max_new_tokens={args.new_tokens}", "generation.batch_size=64",
                              f"hydra.run.dir={tmp / f'predict_{n}'}", timed=True)
            rss = int(proc.stderr.rsplit("peak_rss_kib=", 1)[1].split()[0])
            lines = sum(1 for _ in open(out, encoding="utf-8"))
            print(json.dumps({"texts": n, "chunk_size": args.chunk_size, "new_tokens": args.new_tokens,
                              "wall_s": round(wall, 1), "peak_rss_mib": round(rss / 1024, 1), "output_lines": lines}),
                  flush=True)


if __name__ == "__main__":
    main()
