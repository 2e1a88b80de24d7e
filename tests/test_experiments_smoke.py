"""Every experiment file runs end to end (prepare -> train -> eval) in one Hydra multirun, on a tiny model."""

import json
import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import EXPERIMENT_FILES, REPO


@pytest.mark.slow
def test_every_experiment_runs_as_a_multirun(tmp_path, raw_data):
    sweep_dir = tmp_path / "multirun"
    cmd = [
        sys.executable, "-m", "odin", "-m", "+experiment=glob(*)",
        "model=tiny_random", "training=smoke", "training.eval_every=1.0",
        "eval.num_samples=4", "generation.max_new_tokens=24", "data.max_tokens=200",
        f"paths.raw_data_dir={raw_data}", f"hydra.sweep.dir={sweep_dir}",
    ]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-4000:]
    results = sorted(sweep_dir.glob("*/evaluation_results.json"))
    assert len(results) == len(EXPERIMENT_FILES)
    versions = set()
    for path in results:
        run_dir = path.parent
        # An adapter, or the whole model of a full fine-tune (lora.enabled=false, v17).
        assert any((run_dir / "final_model" / f).exists() for f in ("adapter_config.json", "config.json"))
        assert (run_dir / "data" / "stats.json").exists()
        versions.add(OmegaConf.load(run_dir / ".hydra" / "config.yaml").version)
        assert json.loads(path.read_text())["num_examples"] == 4
    assert versions == set(EXPERIMENT_FILES)
