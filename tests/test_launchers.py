"""The same sweep through Hydra's launchers: submitit (local processes; SLURM up to the sbatch call), and joblib
with one GPU per worker process (odin/devices.py)."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from conftest import odin_cli
from odin.devices import claim_gpu, visible_gpus
from odin.errors import OdinError

# The cheapest real jobs: prepare a few synthetic notes for the tiny model.
PREPARE = ["-m", "task=prepare", "data=synthetic", "model=tiny_random", "tracking=none"]


def job_dirs(sweep):
    return sorted(p.parent.parent for p in sweep.glob("*/.hydra/config.yaml"))


@pytest.mark.slow  # real launcher: a process per job
def test_two_jobs_complete_through_the_real_submitit_local_launcher(tmp_path):
    sweep = tmp_path / "sweep"
    res = odin_cli(*PREPARE, "data.sources.synthetic.num_examples=20,30", "hydra/launcher=submitit_local",
                   "hydra.launcher.timeout_min=10", f"hydra.sweep.dir={sweep}")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_dirs(sweep)
    assert len(jobs) == 2
    for job in jobs:
        assert (job / "data" / "stats.json").is_file() and not (job / "failure.json").exists()
    # Each job ran in a process of its own that submitit started and logged
    logs = sorted((sweep / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2 and "Submitit 'local' sweep output dir" in res.stderr
    assert "All 2 jobs of" in res.stderr


@pytest.mark.slow  # real launcher: two worker processes, four jobs
def test_one_gpu_per_joblib_worker_a_failed_job_recorded_and_the_rest_run(tmp_path):
    """hydra/launcher=joblib_gpus on a machine showing two GPUs: two workers, each holding its own GPU for every job
    it runs (four jobs: each worker runs two); the jobs made to fail (data.split.train=-1 is refused) are recorded
    and the others run."""
    sweep = tmp_path / "sweep"
    env = {"CUDA_VISIBLE_DEVICES": "0,1", "ODIN_GPU_LOCKS": str(tmp_path / "locks")}
    res = odin_cli(*PREPARE, "data.split.train=-1,0.8", "data.sources.synthetic.num_examples=20,21",
                   "hydra/launcher=joblib_gpus", f"hydra.sweep.dir={sweep}", env=env)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in res.stderr and "2 of 4 jobs failed" in res.stderr
    jobs = job_dirs(sweep)
    for job in jobs:
        if "data.split.train=-1" in job.name:
            assert "data.split.train=-1" in json.loads((job / "failure.json").read_text())["message"]
        else:
            assert (job / "data" / "stats.json").is_file() and not (job / "failure.json").exists()
    gpu_of = {}
    for job in jobs:
        (line,) = re.findall(r"runs on GPU (\S+) .*worker process (\d+)", (job / "prepare.log").read_text())
        gpu, pid = line
        assert gpu_of.setdefault(pid, gpu) == gpu  # a worker keeps its GPU
    assert sorted(gpu_of.values()) == ["0", "1"]  # two workers, two GPUs, never shared


def test_gpus_are_claimed_one_per_holder(tmp_path):
    first, lock_a = claim_gpu(["a", "b"], tmp_path)
    second, lock_b = claim_gpu(["a", "b"], tmp_path)
    assert (first, second) == ("a", "b")
    with pytest.raises(OdinError, match=r"All 2 GPUs \(a, b\) are taken .* hydra.launcher.n_jobs=2 or fewer"):
        claim_gpu(["a", "b"], tmp_path)
    lock_a.release()
    assert claim_gpu(["a", "b"], tmp_path)[0] == "a"  # a freed GPU is taken again
    with pytest.raises(OdinError, match="shows none"):
        claim_gpu([], tmp_path)


def test_visible_gpus_follow_cuda_visible_devices():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0, 2"}) == ["0", "2"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-1f2e,GPU-3a4b"}) == ["GPU-1f2e", "GPU-3a4b"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_the_slurm_preset_reaches_sbatch_with_odin_s_resources(tmp_path):
    """No cluster here: `srun` and `sbatch` stand-ins on PATH (sbatch keeps the script it is given and refuses it),
    so everything up to the cluster is real: odin's preset, Hydra, the submitit launcher and submitit's script."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("srun", "exit 0"), ("sbatch", f'cp "$1" {tmp_path}/submitted.sh; echo "no cluster" >&2; '
                                                      "exit 1")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    res = odin_cli(*PREPARE, "data.sources.synthetic.num_examples=20,30", "hydra/launcher=slurm",
                   "hydra.launcher.partition=gpu", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                   env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, timeout=120)
    assert res.returncode != 0 and "no cluster" in res.stderr
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --time=240",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --mem=64GB", "#SBATCH --ntasks-per-node=1",
                 "#SBATCH --array=0-1%2", "#SBATCH --job-name=odin-dev", "export TOKENIZERS_PARALLELISM=false",
                 "export OMP_NUM_THREADS=8"):
        assert line in script, line
    assert f"--output {tmp_path / 'sweep'}/.submitit/" in script
