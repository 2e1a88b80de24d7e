"""The bench profilers run end to end (on the tiny random model here; BENCHMARKS.md has their GPU numbers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from odin.data.prepared import write_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "modeling"))
from training_notes import note_records, write_data  # noqa: E402


def bench(script: str, *args: str) -> list[dict]:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_generate_profile_times_prefill_and_decoding_steps(tmp_path):
    data = write_data(tmp_path / "data")
    write_split(note_records(6, offset=20), data, "test")
    [row] = bench("generate_profile.py", "--data", str(data), "--examples", "3", "--new-tokens", "6",
                  "tiny:model=tiny_random,model.backend=hf")
    assert (row["label"], row["examples"], row["overrides"]) == ("tiny", 3, ["model=tiny_random", "model.backend=hf"])
    assert 1 <= row["steps"] <= 6 and row["s_per_step"] > 0 and row["generate_s"] >= row["prefill_s"] > 0


def test_train_step_profile_times_steps_of_each_variant(tmp_path):
    data = write_data(tmp_path / "data", n_train=12)
    rows = bench("train_step_profile.py", "--data", str(data), "--steps", "2",
                 "b2:model=tiny_random,model.backend=hf,training.per_device_batch_size=2",
                 "b4:model=tiny_random,model.backend=hf,training.per_device_batch_size=4")
    assert [(r["label"], r["rows_per_step"]) for r in rows] == [("b2", 2), ("b4", 4)]
    assert all(r["s_per_step"] > 0 and r["projected_train_s"] > 0 for r in rows)
    assert rows[0]["steps_per_3_epochs"] == 18 and rows[1]["steps_per_3_epochs"] == 9


def test_bootstrap_speed_times_the_statistics_of_a_comparison():
    [row] = bench("bootstrap_speed.py", "--runs", "3", "--examples", "20", "--repeat", "1")
    assert (row["runs"], row["examples"], row["resamples"], row["paired"]) == (3, 20, 1000, 2)
    assert row["files"] == ["compare.md", "compare.csv", "compare_lora.r.png"]
    assert 0 < row["bootstrap_s"] and 0 < row["read_s"] and 0 < row["compare_s"] and 0 < row["outputs_s"]
