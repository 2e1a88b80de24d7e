"""The MLflow model registry: every registered adapter a version of one model, the best under the `champion` alias.

A new version takes the alias only when it beats the current champion by the rule (`register.rule`, default
relation F1, then entity F1: the first metric that differs decides, higher is better), scored on the same test set
(the hash of the evaluated examples, `odin.test_set`). Versions scored on different test sets are not compared: the
alias stays and the log says why. A worse model never takes the alias; `register.force=true` is a manual promotion.
Every decision is logged with both scores and kept as a tag on the new version. With
`register.require_significant=true` a win must also be significant by the paired bootstrap
(odin/tracking/significance.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from odin.errors import OdinError

log = logging.getLogger(__name__)

# Metrics copied onto each model version as tags, so the registry page shows them without opening the run.
VERSION_METRICS = ("entity_f1", "entity_precision", "entity_recall", "entity_f1_macro",
                   "relation_f1", "relation_precision", "relation_recall", "relation_f1_macro")


@dataclass(frozen=True)
class Candidate:
    label: str  # "version 3 (run abc123)" for messages
    metrics: Mapping[str, float]
    test_set: str | None


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def champion_decision(candidate: Candidate, champion: Candidate | None, rule: Sequence[str],
                      force: bool = False) -> Decision:
    """Whether `candidate` takes the alias from `champion` under `rule`, and why (with both scores)."""
    if champion is None:
        own = ", ".join(f"{m} {_score(candidate, m)}" for m in rule)
        return Decision(True, f"{candidate.label} is the first version with the alias ({own}; no champion before)")
    scores = ", ".join(f"{m} {_score(candidate, m)} vs {_score(champion, m)}" for m in rule)
    if force:
        return Decision(True, f"register.force=true: {candidate.label} takes the alias from {champion.label} "
                              f"({scores})")
    if candidate.test_set is None or candidate.test_set != champion.test_set:
        return Decision(False, f"not compared: {candidate.label} and the champion {champion.label} were scored on "
                               f"different test sets ({_short(candidate.test_set)} vs {_short(champion.test_set)}; "
                               f"{scores}); the alias stays. Evaluate both on the same split, or promote by hand with "
                               "register.force=true")
    for metric in rule:
        new, old = candidate.metrics.get(metric), champion.metrics.get(metric)
        if new is None or old is None:
            missing = candidate.label if new is None else champion.label
            return Decision(False, f"not compared: {missing} has no {metric} (the rule is {', '.join(rule)}; "
                                   f"{scores}); the alias stays")
        if new > old:
            return Decision(True, f"{candidate.label} beats the champion {champion.label} on {metric} ({scores})")
        if new < old:
            return Decision(False, f"{candidate.label} does not beat the champion {champion.label}: {metric} is "
                                   f"lower ({scores}); the alias stays")
    return Decision(False, f"{candidate.label} ties the champion {champion.label} on {', '.join(rule)} ({scores}); "
                           "the alias stays")


def _score(version: Candidate, metric: str) -> str:
    value = version.metrics.get(metric)
    return "missing" if value is None else f"{value:.4f}"


def _short(test_set: str | None) -> str:
    return "unknown" if test_set is None else test_set[:10]


def register(client, model_name: str, run, *, alias: str, rule: Sequence[str], force: bool,
             run_dir: Path | None = None, significance=None) -> tuple[str, Decision]:
    """Register `run`'s adapter as a new version of `model_name` and move `alias` if it wins; (version, decision).

    `significance` (an odin.tracking.significance.Significance): a win must also be significant (the bootstrap)."""
    from mlflow.exceptions import MlflowException

    source = _model_source(client, run, run_dir)
    metrics = {k: float(v) for k, v in run.data.metrics.items()}
    tags = run.data.tags
    version_tags = {k: f"{metrics[k]:.6f}" for k in VERSION_METRICS if k in metrics}
    version_tags.update({k: tags[k] for k in ("odin.version", "odin.model", "odin.data_sources", "odin.test_set",
                                              "odin.run_key", "odin.eval_split") if k in tags})
    try:
        client.create_registered_model(model_name, description="odin's medical entity and relation extractors")
    except MlflowException as err:
        if "RESOURCE_ALREADY_EXISTS" not in str(err.error_code):
            raise
    version = client.create_model_version(model_name, source, run_id=run.info.run_id, tags=version_tags)
    label = f"version {version.version} ({tags.get('odin.version', '?')}, run {run.info.run_id[:8]})"
    candidate = Candidate(label, metrics, tags.get("odin.test_set"))
    champion = _champion(client, model_name, alias)
    decision = champion_decision(candidate, champion, rule, force)
    if significance is not None and decision.promote and champion is not None and not force:
        from odin.tracking.significance import gate

        decision = gate(client, model_name, alias, run, candidate, champion, rule, decision, significance)
    if decision.promote:
        client.set_registered_model_alias(model_name, alias, version.version)
    client.set_model_version_tag(model_name, version.version, "odin.champion_decision", decision.reason[:5000])
    log.info("Registered %s as %s version %s. %s: %s", source, model_name, version.version,
             f"`{alias}` moves to it" if decision.promote else f"`{alias}` stays", decision.reason)
    return str(version.version), decision


def _champion(client, model_name: str, alias: str) -> Candidate | None:
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    try:
        run = client.get_run(version.run_id)
        metrics = {k: float(v) for k, v in run.data.metrics.items()}
    except MlflowException:  # the run is gone: the version's own tags still hold its scores
        metrics = {k: float(v) for k, v in version.tags.items() if k in VERSION_METRICS}
    return Candidate(f"version {version.version} ({version.tags.get('odin.version', '?')})", metrics,
                     version.tags.get("odin.test_set"))


def _model_source(client, run, run_dir: Path | None) -> str:
    """The run's `final_model` artifact; a run that only linked its adapter (too large to log with every run) gets it
    uploaded now, since a registered version must live in the artifact store (a server accepts no local paths)."""
    if any(a.path == "final_model" for a in client.list_artifacts(run.info.run_id)):
        return f"runs:/{run.info.run_id}/final_model"
    tags = run.data.tags
    for candidate in (tags.get("odin.model_path"), Path(run_dir) / "final_model" if run_dir else None,
                      Path(tags["odin.run_dir"]) / "final_model" if "odin.run_dir" in tags else None):
        if candidate and any((Path(candidate) / name).is_file() for name in ("adapter_config.json", "config.json")):
            log.info("Uploading the model %s to the run's artifacts for the registry", candidate)
            client.log_artifacts(run.info.run_id, str(candidate), "final_model")
            return f"runs:/{run.info.run_id}/final_model"
    raise OdinError(f"MLflow run {run.info.run_id} has no trained adapter (no final_model artifact, no local "
                    "final_model/ folder): only a run that trained a model can be registered")


def champion_run_dir(cfg) -> Path:
    """The local run directory of the registry's champion (publish.from=champion)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from odin.tracking.mlflow_tracker import connect

    connect(str(cfg.tracking.uri), cfg.tracking)
    client = mlflow.MlflowClient()
    name, alias = str(cfg.tracking.registered_model_name), str(cfg.register.alias)
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException as err:
        raise OdinError(f"The registry has no `{alias}` of {name} at {cfg.tracking.uri}: register a run first "
                        "(task=register register.run_dir=<run>), or publish one with publish.run_dir=<run>") from err
    run_dir = client.get_run(version.run_id).data.tags.get("odin.run_dir")
    if not run_dir or not Path(run_dir).is_dir():
        raise OdinError(f"The `{alias}` ({name} version {version.version}) was trained in {run_dir or 'a run'}, "
                        "which is not on this machine: publish it from where it lies with publish.run_dir=<run>")
    log.info("publish.from=champion: %s version %s, run directory %s", name, version.version, run_dir)
    return Path(run_dir)


def tag_published(cfg, run_dir: Path, tags: Mapping[str, str]) -> list[str]:
    """Put the Hub repo, URL, branch and commit (`odin.hub_*` from `odin.hub.upload.hub_tags`) on every registered
    version trained in `run_dir`; returns them as `name/version`. A failure is a warning, never an error: the upload
    has succeeded by then, and a version can be tagged later by hand."""
    import mlflow

    from odin.tracking import run_key
    from odin.tracking.mlflow_tracker import connect

    tagged: list[str] = []
    try:
        experiment_id = connect(str(cfg.tracking.uri), cfg.tracking)
        client = mlflow.MlflowClient()
        runs = client.search_runs([experiment_id], filter_string=f"tags.`odin.run_key` = '{run_key(run_dir)}'")
        for run in runs:
            for version in client.search_model_versions(f"run_id = '{run.info.run_id}'"):
                for key, value in tags.items():
                    client.set_model_version_tag(version.name, version.version, key, value)
                tagged.append(f"{version.name}/{version.version}")
    except Exception as err:  # the upload is done; the registry can be tagged later by hand
        log.warning("Could not tag the registered versions of %s with the Hub commit: %s", run_dir, err)
        return tagged
    if tagged:
        log.info("Tagged %s with the Hub commit", ", ".join(tagged))
    else:
        log.info("No registered version was trained in %s: no registry tags (task=register registers it)", run_dir)
    return tagged
