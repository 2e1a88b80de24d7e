"""docker-compose.yml, read as Docker Compose reads it (YAML): the MLflow image pinned to the release odin is tested
with, port 5000, the store and artifacts on named volumes, clients uploading through the server; and the README's
plain `mlflow server` line is the same command. (Docker itself does not run here: `mlflow_server` in
tests/conftest.py runs this command line as a process for the tests that need a server.)"""

from __future__ import annotations

import importlib.metadata
import shlex
from pathlib import PurePosixPath

import yaml

from conftest import REPO, documented_server


def compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_image_is_mlflow_3_pinned_to_the_installed_release_on_port_5000():
    service = compose()["services"]["mlflow"]
    image, tag = service["image"].rsplit(":", 1)
    assert image == "ghcr.io/mlflow/mlflow" and tag == f"v{importlib.metadata.version('mlflow')}"
    assert tag.startswith("v3.")
    assert service["ports"] == ["5000:5000"]
    _, command = documented_server()
    assert command[:2] == ["mlflow", "server"]
    assert option(command, "--host") == "0.0.0.0" and option(command, "--port") == "5000"


def test_the_store_and_artifacts_lie_on_named_volumes_and_clients_upload_through_the_server():
    spec = compose()
    service = spec["services"]["mlflow"]
    mounts = {}
    for volume in service["volumes"]:
        name, target = volume.split(":")
        assert name in spec["volumes"], f"{volume}: a bind mount or an undeclared volume, not a named volume"
        mounts[PurePosixPath(target)] = name
    _, command = documented_server()
    cwd = PurePosixPath(service["working_dir"])
    store = option(command, "--backend-store-uri")
    assert store.startswith("sqlite:///") and not store.startswith("sqlite:////")  # relative to working_dir
    assert (cwd / store[len("sqlite:///"):]).parent in mounts
    assert cwd / option(command, "--artifacts-destination") in mounts
    assert len(set(mounts.values())) == 2 and "--no-serve-artifacts" not in command


def test_the_readme_gives_the_same_command_for_machines_without_docker():
    env, command = documented_server()
    lines = [line for line in (REPO / "README.md").read_text().splitlines() if " mlflow server --host 0.0.0.0" in line]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    given_env = dict(w.split("=", 1) for w in words[:len(env)])
    assert given_env == env and words[len(env):] == command
