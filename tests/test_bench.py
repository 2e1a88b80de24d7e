"""The bench profilers run end to end (on the tiny random model here; BENCHMARKS.md has their GPU numbers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from odin.data.prepared import write_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "modeling"))
from training_notes import note_records, write_data  # noqa: E402


def bench(script: str, *args: str) -> list[dict]:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"')]  # not the Trainer's dicts


@pytest.mark.slow  # a real bench script on the tiny model: seconds of training or generation
def test_generate_profile_times_prefill_and_decoding_steps(tmp_path):
    data = write_data(tmp_path / "data")
    write_split(note_records(6, offset=20), data, "test")
    [row] = bench("generate_profile.py", "--data", str(data), "--examples", "3", "--new-tokens", "6",
                  "tiny:model=tiny_random,model.backend=hf")
    assert (row["label"], row["examples"], row["overrides"]) == ("tiny", 3, ["model=tiny_random", "model.backend=hf"])
    assert 1 <= row["steps"] <= 6 and row["s_per_step"] > 0 and row["generate_s"] >= row["prefill_s"] > 0


@pytest.mark.slow  # a real bench script on the tiny model: seconds of training or generation
def test_train_step_profile_times_steps_of_each_variant(tmp_path):
    data = write_data(tmp_path / "data", n_train=12)
    rows = bench("train_step_profile.py", "--data", str(data), "--steps", "2", "--warmup", "2",
                 "b2:model=tiny_random,model.backend=hf,training.per_device_batch_size=2",
                 "b4:model=tiny_random,model.backend=hf,training.per_device_batch_size=4",
                 "pf:model=tiny_random,model.backend=hf,training.per_device_batch_size=2,training.padding_free=true")
    assert [(r["label"], r["rows_per_step"], r["world_size"]) for r in rows] == [("b2", 2, 1), ("b4", 4, 1),
                                                                                 ("pf", 2, 1)]
    assert all(r["s_per_step"] > 0 and r["projected_train_s"] > 0 and r["real_tokens_per_s"] > 0 for r in rows)
    assert rows[0]["steps_per_3_epochs"] == 18 and rows[1]["steps_per_3_epochs"] == 9
    # The same examples in the same order, padded or not: the same real tokens (padding is never counted).
    lengths = sorted(len(ids) for ids in _tokenized(data))
    assert lengths[0] * 4 <= rows[0]["real_tokens"] <= lengths[-1] * 4
    assert rows[2]["real_tokens"] == rows[0]["real_tokens"]


def _tokenized(data: Path) -> list[list[int]]:
    from odin.data.prepared import read_split
    from odin.modeling.load import load_tokenizer
    from odin.modeling.sft import encode
    from odin.schema import compose_config

    cfg = compose_config(["model=tiny_random"], data.parent / "run")
    tokenizer = load_tokenizer(cfg.model, cfg.paths.cache_dir)
    return [p + a for p, a in encode(read_split(data, "train"), tokenizer)]


def _tiny_model_dir(tmp_path: Path) -> str:
    from odin.modeling.load import pretrained_dir
    from odin.schema import compose_config

    cfg = compose_config(["model=tiny_random"], tmp_path / "run")
    return pretrained_dir(cfg.model, cfg.paths.cache_dir)


@pytest.mark.slow  # a real bench script on the tiny model: seconds of training or generation
def test_plain_hf_script_counts_the_real_tokens_of_the_timed_steps(tmp_path):
    data = write_data(tmp_path / "data", n_train=20)
    [row] = bench("plain_hf.py", "--model", _tiny_model_dir(tmp_path), "--data", str(data), "--recipe", "original",
                  "--warmup", "1", "--steps", "1", "--no-4bit", "--rank", "4")
    assert (row["label"], row["sentences_per_step"], row["gradient_accumulation_steps"]) == ("plain_hf_original", 16, 8)
    # Our count (collated micro-batches, padding left out) is TRL's own count of non-pad tokens for those steps.
    assert row["real_tokens"] == row["trainer_counted_tokens"] > 0 and row["dropped_too_long"] == 0
    assert row["s_per_step"] > 0 and row["real_tokens_per_s"] > 0 and row["device"] == "cpu"


def test_plain_unsloth_script_parses_its_recipe_without_importing_unsloth():
    import sys as _sys

    _sys.path.insert(0, str(ROOT / "bench"))
    import plain_common

    args = plain_common.parser(None).parse_args(["--model", "m", "--data", "d", "--recipe", "b32", "--steps", "4"])
    assert plain_common.RECIPES[args.recipe] == (32, 1) and (args.steps, args.warmup) == (4, 3)
    assert args.four_bit and args.checkpointing and not args.padding_free
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "plain_unsloth.py"), "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--recipe {b32,original}" in done.stdout


def test_token_count_takes_the_micro_batches_of_the_timed_optimizer_steps():
    import sys as _sys

    _sys.path.insert(0, str(ROOT / "bench"))
    from plain_common import TokenCount

    counter = TokenCount(lambda features: features)
    for n in range(1, 9):  # eight micro-batches of one example of n tokens
        counter([{"input_ids": [0] * n}])
    assert counter.tokens(1, 3, accumulation=2) == 3 + 4 + 5 + 6  # steps 2 and 3 are micro-batches 3..6


def test_bootstrap_speed_times_the_statistics_of_a_comparison():
    [row] = bench("bootstrap_speed.py", "--runs", "3", "--examples", "20", "--repeat", "1")
    assert (row["runs"], row["examples"], row["resamples"], row["paired"]) == (3, 20, 1000, 2)
    assert row["files"] == ["compare.md", "compare.csv", "compare_lora.r.png"]
    assert 0 < row["bootstrap_s"] and 0 < row["read_s"] and 0 < row["compare_s"] and 0 < row["outputs_s"]
    assert 0 < row["read_cpu_s"] and 0 < row["compare_cpu_s"]


@pytest.mark.slow  # trains a smoke adapter, then one task=predict process per size
def test_predict_memory_streams_every_text_of_each_size_in_chunks():
    rows = bench("predict_memory.py", "--sizes", "5", "40", "--chunk-size", "16", "--new-tokens", "4")
    assert [(r["texts"], r["output_lines"], r["chunk_size"]) for r in rows] == [(5, 5, 16), (40, 40, 16)]
    assert all(r["peak_rss_mib"] > 0 and r["wall_s"] > 0 for r in rows)
