"""A token is never a config value: the config check refuses one (naming the key, never the value), wherever it came
from; what odin sends to a tracker is redacted as well."""

from __future__ import annotations

import pytest

from conftest import compose_cfg
from odin.errors import OdinError
from odin.secrets import REDACTED, redact
from odin.validate import secret_values, validate

TOKEN = "hf_PlantedSecretForTheTests0123456789abcdefXYZ"


def test_a_token_through_an_env_interpolation_or_typed_in_is_refused_naming_the_key(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    cfg = compose_cfg(["model=tiny_random", "description=${oc.env:HF_TOKEN}",
                       f"compare.plot_metrics=[entity_f1,{TOKEN}]"])
    with pytest.raises(OdinError) as err:
        validate(cfg)
    message = str(err.value)
    assert "description holds the value of $HF_TOKEN" in message
    assert "compare.plot_metrics[1] holds" in message and TOKEN not in message


def test_a_token_shaped_value_is_refused_without_the_env_var(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(OdinError, match=r"description holds a Hugging Face token \(hf_\.\.\.\)"):
        validate(compose_cfg(["model=tiny_random", f"description=see {TOKEN}"]))


def test_a_config_without_secrets_passes_even_with_hf_token_set(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    for experiment in ("v16", "v17"):
        assert not list(secret_values(compose_cfg([f"+experiment={experiment}"])))


def test_redact_replaces_env_secrets_and_token_shapes(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-password")
    assert redact(f"a {TOKEN} and s3cret-password") == f"a {REDACTED} and {REDACTED}"
    assert redact(7) == 7
