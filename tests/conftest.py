"""Shared fixtures: compose the real config tree with Hydra, as `python -m odin` does."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from omegaconf import DictConfig

from odin.schema import CONF_DIR, compose_config, register_configs

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT_FILES = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))

register_configs()


def raw_data_dir() -> Path | None:
    """The raw corpora: $ODIN_RAW_DATA, else ../shared/data/raw beside the repo; None when neither exists."""
    candidates = [os.environ.get("ODIN_RAW_DATA"), str(REPO.parent / "shared" / "data" / "raw")]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


@pytest.fixture(scope="session", autouse=True)
def _throwaway_mlflow_store(tmp_path_factory):
    """Runs started by the tests (tracking=mlflow is the default) log into a throwaway SQLite store, never the
    project's outputs/mlflow.db; subprocesses inherit it through the environment."""
    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
    yield store
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture(scope="session")
def raw_data() -> Path:
    path = raw_data_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("The raw corpora are required in CI: set ODIN_RAW_DATA or put them at ../shared/data/raw")
        pytest.skip("raw corpora not found: set ODIN_RAW_DATA to the folder holding ade/, bc5cdr/, biored/")
    return path


def task_ctx(cfg: DictConfig, backend: str | None = None):
    """The run context a task gets from the app, for calling a task's run() directly: tracking off."""
    from odin.app import RunContext
    from odin.tracking import Tracker

    return RunContext(cfg=cfg, run_dir=Path(cfg.paths.output_dir), backend=backend, tracker=Tracker())


def compose_cfg(overrides: list[str] | None = None, output_dir: Path | None = None) -> DictConfig:
    """The composed config for `python -m odin <overrides>`, with the Hydra run dir set to `output_dir`."""
    return compose_config(overrides or [], output_dir or "/nonexistent-run-dir")


@pytest.fixture
def make_cfg(tmp_path):
    """`make_cfg(["model=tiny_random", ...])` -> composed config whose run dir is a fresh tmp folder."""

    def _make(overrides: list[str] | None = None) -> DictConfig:
        return compose_cfg(overrides, output_dir=tmp_path / "run")

    return _make


# A few steps of the tiny random model: the cheapest real prepare -> train -> eval through the CLI.
TINY_RUN = ["model=tiny_random", "training=smoke", "eval.num_samples=4", "generation.max_new_tokens=24"]


def odin_cli(*args: str, env: dict | None = None, timeout: int = 600, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """`python -m odin <args>` as a user runs it (offline, like CI)."""
    return subprocess.run([sys.executable, "-m", "odin", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


def tracked_runs(client, experiment: str = "odin", **tags) -> list:
    """The MLflow runs of `experiment` carrying all `tags` (`odin__sweep=...` for the tag `odin.sweep`)."""
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    query = " and ".join(f"tags.`{k.replace('__', '.')}` = '{v}'" for k, v in tags.items())
    return client.search_runs([experiment_id], filter_string=query)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def documented_server() -> tuple[dict[str, str], list[str]]:
    """The environment and `mlflow server` command line that docker-compose.yml runs (and the README gives for
    machines without Docker): the tests' server is started with them, so what is documented is what is tested."""
    import yaml

    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["mlflow"]
    return dict(service.get("environment", {})), shlex.split(service["command"])


@pytest.fixture(scope="session")
def mlflow_server_dir(tmp_path_factory) -> Path:
    """The working directory of the `mlflow_server` process: its store is store/mlflow.db, artifacts in artifacts/."""
    return tmp_path_factory.mktemp("mlflow-server")


@pytest.fixture(scope="session")
def mlflow_server(mlflow_server_dir):
    """A real `mlflow server` process, the documented command on 127.0.0.1 and a free port; yields its URI."""
    root, port = mlflow_server_dir, free_port()
    env, command = documented_server()
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    log = open(root / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", *command], cwd=root, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **env})
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a busy 2-core machine takes up to a minute to start it
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield uri
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
