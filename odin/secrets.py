"""Secrets (Hugging Face and tracking tokens): recognised so they are refused in the config and redacted elsewhere.

odin takes no secret through its config: a config value is saved in `.hydra/`, written to logs and logged to MLflow as
a param, so the config check (odin/validate.py) refuses any value that holds one, naming the key. Tokens come from the
environment (HF_TOKEN, MLFLOW_TRACKING_TOKEN, ...), where the libraries that need them read them. Whatever odin sends
to a tracker anyway (tags, error messages) goes through `redact` as a second line of defence.

Pure: the standard library only.
"""

from __future__ import annotations

import os
import re

# Environment variables that hold secrets: their values never reach a param, tag, artifact or saved config.
SECRET_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN", "MLFLOW_TRACKING_TOKEN",
                   "MLFLOW_TRACKING_PASSWORD", "AWS_SECRET_ACCESS_KEY", "WANDB_API_KEY")
TOKEN_SHAPE = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")  # a Hugging Face access token
REDACTED = "<redacted>"
_MIN_SECRET_LEN = 8  # shorter values (e.g. "1", "true") would match everywhere and protect nothing


def _env_secrets() -> dict[str, str]:
    return {name: value for name in SECRET_ENV_VARS
            if len(value := os.environ.get(name, "")) >= _MIN_SECRET_LEN}


def find_secret(text: str) -> str | None:
    """What secret `text` holds, in words that do not repeat it ("the value of $HF_TOKEN"), or None."""
    for name, value in _env_secrets().items():
        if value in text:
            return f"the value of ${name}"
    if TOKEN_SHAPE.search(text):
        return "a Hugging Face token (hf_...)"
    return None


def redact(value):
    """`value` with every secret (a secret env var's value, or a token's shape) replaced by <redacted>; non-strings
    as they are."""
    if not isinstance(value, str):
        return value
    for secret in _env_secrets().values():
        value = value.replace(secret, REDACTED)
    return TOKEN_SHAPE.sub(REDACTED, value)
