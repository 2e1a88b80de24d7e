"""How long task=compare's statistics take: bootstrap intervals and paired differences for R runs of N examples.

    python bench/bootstrap_speed.py [--runs 10] [--examples 500] [--resamples 1000] [--repeat 5]

Writes R run directories (evaluation_results.json from hand-made generations, scored by odin.evaluation) into a temp
dir, then times, best of --repeat:
  bootstrap_s  odin.compare.compare_records on the runs already read: one draw of resamples, one matrix product, an
               interval for entity and relation F1 of every run and a paired difference of every run against the first
               (the issue's target: < 2 s for 10 runs x 500 examples)
  read_s       odin.compare.load_run of every run dir (JSON, rescoring every example with odin.metrics)
  compare_s    odin.compare.compare_runs: read + bootstrap, what task=compare does before writing
               (read_cpu_s, compare_cpu_s: the same as CPU time of this process, steadier on a shared machine)
  outputs_s    odin.compare_report.write_outputs: compare.md, compare.csv and the PNGs (matplotlib)
and prints one JSON line. BENCHMARKS.md has the numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from odin.compare import compare_records, compare_runs, load_run  # noqa: E402
from odin.compare_report import write_outputs  # noqa: E402
from odin.evaluation import build_results, score_generations, write_results  # noqa: E402
from odin.extraction import Entity, Extraction, Relation  # noqa: E402
from odin.format import render, to_record  # noqa: E402


def write_runs(root: Path, runs: int, examples: int) -> list[Path]:
    """`runs` sweep jobs over lora.r, each finding each gold item with its own probability."""
    records, golds = [], []
    for i in range(examples):
        drug, disease, symptom = f"drug {i}", f"disease {i}", f"symptom {i}"
        gold = Extraction.of([Entity(drug, "Drug"), Entity(disease, "Disease"), Entity(symptom, "Symptom")],
                             [Relation(drug, "treats", disease), Relation(drug, "causes", symptom)])
        records.append({**to_record(f"{drug} for {disease}; {symptom} followed.", gold), "id": f"ex{i}"})
        golds.append(gold)
    dirs = []
    for r in range(runs):
        rng = random.Random(r)
        hit = 0.6 + 0.03 * r
        generations = [render([e for e in g.entities if rng.random() < hit],
                              [x for x in g.relations if rng.random() < hit - 0.1]) for g in golds]
        scores, examples_out = score_generations(records, generations)
        d = root / f"{r}_lora.r={8 * (r + 1)}"
        write_results(build_results(scores, examples_out, model_dir=None, model_name="bench", split="test",
                                    generation_s=1.0), d / "evaluation_results.json")
        (d / ".hydra").mkdir()
        (d / ".hydra" / "config.yaml").write_text(f"task: pipeline\nlora:\n  r: {8 * (r + 1)}\n")
        (d / ".hydra" / "overrides.yaml").write_text(f"- lora.r={8 * (r + 1)}\n")
        dirs.append(d)
    return dirs


def best_of(repeat: int, fn) -> tuple[float, object, float]:
    """(best wall time, the result, best CPU time of this process: less moved by other jobs on a shared machine)."""
    times, cpu, result = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(times), result, min(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--examples", type=int, default=500)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="odin-bootstrap-bench-") as tmp:
        dirs = write_runs(Path(tmp), args.runs, args.examples)
        read_s, records, read_cpu_s = best_of(args.repeat, lambda: [load_run(d) for d in dirs])
        bootstrap_s, c, _ = best_of(args.repeat, lambda: compare_records(records, reference=0,
                                                                         resamples=args.resamples))
        compare_s, _, compare_cpu_s = best_of(args.repeat, lambda: compare_runs(dirs, reference=dirs[0],
                                                                                resamples=args.resamples))
        outputs_s, paths, _ = best_of(1, lambda: write_outputs(c, Path(tmp) / "out"))
    print(json.dumps({
        "runs": args.runs, "examples": args.examples, "resamples": args.resamples,
        "bootstrap_s": round(bootstrap_s, 4), "read_s": round(read_s, 4), "read_cpu_s": round(read_cpu_s, 4),
        "compare_s": round(compare_s, 4), "compare_cpu_s": round(compare_cpu_s, 4),
        "outputs_s": round(outputs_s, 3), "files": [p.name for p in paths],
        "paired": len(c.differences), "cpu": platform.processor() or platform.machine(),
    }))


if __name__ == "__main__":
    main()
