"""One GPU per job when a sweep runs its jobs side by side on one machine: `hydra/launcher=joblib_gpus`.

joblib runs the jobs in worker processes, several at once, and reuses a worker for the jobs after its first. CUDA
reads CUDA_VISIBLE_DEVICES once, when a process first uses it, so the device is a property of the worker process,
not of the job: the first time a worker runs a job it claims one of the GPUs the sweep was started with
(CUDA_VISIBLE_DEVICES, else every GPU `nvidia-smi` lists) by locking its lock file, sets CUDA_VISIBLE_DEVICES to it
and keeps it for every later job. Two workers never hold the same GPU, and a worker that dies frees its GPU with its
lock (the operating system releases it). The preset runs one worker per GPU (`n_jobs: ${odin_gpu_count:}`), so every
worker gets one; a worker that finds none free fails its job with the reason, and the sweep goes on.

The lock files live in $ODIN_GPU_LOCKS (default: odin-gpu-locks in the temporary directory), shared by every sweep on
the machine, so two sweeps started side by side never put two jobs on one GPU either.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from odin.errors import OdinError

log = logging.getLogger(__name__)

LAUNCHER = "joblib_gpus"  # conf/hydra/launcher/joblib_gpus.yaml
_held: dict[str, object] = {}  # this process's GPU and its lock, kept for the life of the process


def visible_gpus(env: dict | None = None) -> list[str]:
    """The GPUs jobs may share: CUDA_VISIBLE_DEVICES when set (ids or UUIDs), else the indices nvidia-smi lists."""
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env:
        return [d.strip() for d in env["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def gpu_count() -> int:
    """`${odin_gpu_count:}`: how many jobs joblib_gpus runs at once (at least 1, so a machine without GPUs gets one
    job that says why it cannot run)."""
    return max(1, len(visible_gpus()))


def lock_dir() -> Path:
    return Path(os.environ.get("ODIN_GPU_LOCKS") or Path(tempfile.gettempdir()) / "odin-gpu-locks")


def claim_gpu(gpus: list[str], locks: Path) -> tuple[str, object]:
    """The first of `gpus` no other process holds, with its lock (held until released or the process ends)."""
    from filelock import FileLock, Timeout

    if not gpus:
        raise OdinError(f"hydra/launcher={LAUNCHER} runs one job per GPU, and this machine shows none "
                        "(CUDA_VISIBLE_DEVICES is empty or unset and nvidia-smi lists no GPU). On a CPU machine use "
                        "hydra/launcher=joblib hydra.launcher.n_jobs=N.")
    locks.mkdir(parents=True, exist_ok=True)
    for gpu in gpus:
        lock = FileLock(str(locks / f"gpu-{gpu}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        return gpu, lock
    raise OdinError(f"All {len(gpus)} GPUs ({', '.join(gpus)}) are taken by other odin jobs on this machine (locks "
                    f"in {locks}): run at most one job per GPU, hydra.launcher.n_jobs={len(gpus)} or fewer, or wait "
                    "for the other sweep to finish.")


def assign_job_gpu() -> str | None:
    """Under hydra/launcher=joblib_gpus: this worker process's GPU, claimed at its first job and set in
    CUDA_VISIBLE_DEVICES before anything touches CUDA. None under any other launcher (nothing is changed)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or HydraConfig.get().runtime.choices.get("hydra/launcher") != LAUNCHER:
        return None
    if "gpu" not in _held:
        gpu, lock = claim_gpu(visible_gpus(), lock_dir())
        _held.update(gpu=gpu, lock=lock)
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    log.info("This job runs on GPU %s (CUDA_VISIBLE_DEVICES=%s; worker process %d keeps it for its jobs)",
             _held["gpu"], _held["gpu"], os.getpid())
    return str(_held["gpu"])
