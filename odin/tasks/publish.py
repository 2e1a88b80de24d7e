"""task=publish: a trained adapter with its model card, or prepared splits with their dataset card, to the Hub.

    python -m odin task=publish publish.what=model   publish.run_dir=<run> publish.repo_id=<user>/<name>
    python -m odin task=publish publish.what=dataset publish.data_dir=<run>/data publish.repo_id=<user>/<name>
    ... publish.from=champion   # what=model: the run behind the MLflow registry's champion (tracking=mlflow)
    ... publish.dry_run=true    # write exactly what would be uploaded into <run>/publish/<what>/, print it

`check` validates every setting and the files it points at before any work or request; `run` builds the bundle
(odin/hub/bundle.py) and uploads it in one commit (odin/hub/upload.py). The result (repo URL and commit) is written
to this task's run directory as `hub_commit.json`; with tracking on it is logged with the publish run, and the model's
registered versions get the Hub URL and commit as tags (odin/tracking/registry.py `tag_published`).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from odin.errors import OdinError

log = logging.getLogger(__name__)

RESULT_FILE = "hub_commit.json"
# The Hub's rule for a repo name, with the namespace required: publishing needs to know whose repo it is.
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}")
_champions: dict[tuple[str, str, str], Path] = {}  # (tracking uri, registered model, alias) -> its run directory


def resolve_run_dir(cfg: DictConfig) -> Path:
    """The training run to publish: publish.run_dir, or with publish.from=champion the run behind the registry's
    champion (tracking=mlflow)."""
    publish_cfg = cfg.publish
    if str(publish_cfg["from"]) == "champion":
        if str(cfg.tracking.backend) != "mlflow":
            raise OdinError("publish.from=champion publishes the MLflow registry's champion, which needs "
                            "tracking=mlflow; or pass the run directory with publish.run_dir=<run>")
        if publish_cfg.run_dir:
            raise OdinError("publish.from=champion and publish.run_dir are both set: drop one of them")
        from odin.tracking.registry import champion_run_dir

        # Looked up once per process: the run the checks judged is the run published, even if the alias moves.
        key = (str(cfg.tracking.uri), str(cfg.tracking.registered_model_name), str(cfg.register.alias))
        if key not in _champions:
            _champions[key] = champion_run_dir(cfg)
        return _champions[key]
    if not publish_cfg.run_dir:
        raise OdinError("publish.what=model needs publish.run_dir=<a training run directory> "
                        "(or publish.from=champion)")
    return Path(str(publish_cfg.run_dir)).expanduser()


def publish_dir(cfg: DictConfig, target, own_run_dir: Path) -> Path:
    """Where a dry run writes: `<run>/publish/<what>/` for a training run's model or for a run's `data/` folder. A data
    dir that is not a run's `data/` gets this publish run's own directory: the folder beside it is someone else's."""
    what = str(cfg.publish.what)
    if what == "model":
        return target.run_dir / "publish" / what
    data_dir = Path(target)
    in_a_run = data_dir.name == "data" and (data_dir.parent / ".hydra" / "config.yaml").is_file()
    return (data_dir.parent if in_a_run else Path(own_run_dir)) / "publish" / what


def check(cfg: DictConfig):
    """Every publish setting, and what it points at, checked before any work or request. Returns the TrainedRun
    (what=model) or the data dir (what=dataset), so `run` does not read them twice."""
    p = cfg.publish
    if p.what is None:
        raise OdinError("task=publish needs publish.what=model (a trained adapter) or publish.what=dataset "
                        "(prepared splits)")
    if not p.repo_id or not REPO_ID.fullmatch(str(p.repo_id)) or ".." in str(p.repo_id) or "--" in str(p.repo_id):
        raise OdinError(f"publish.repo_id={p.repo_id}: give the Hub repo as <user or org>/<name>, e.g. "
                        "publish.repo_id=jdoe/odin-smollm2-medical-ner-v16 (letters, digits, '-', '_', '.')")
    if p.revision is not None and (not str(p.revision) or str(p.revision).startswith("refs/")):
        raise OdinError(f"publish.revision={p.revision}: give a branch name (created from main when missing)")
    if str(p.what) == "model":
        target = _check_model(cfg)
    else:
        target = _check_dataset(cfg)
    if not p.dry_run:
        from odin.hub.upload import find_token

        find_token()  # a missing token fails here, before anything is built or requested
    return target


def _check_model(cfg: DictConfig):
    from odin.hub.model_card import check_llama_name
    from odin.hub.model_files import select_files
    from odin.hub.run import read_run

    p = cfg.publish
    if p.data_dir:
        raise OdinError("publish.data_dir is for publish.what=dataset; a model's training data is read from its run "
                        "directory (publish.run_dir)")
    run_dir = resolve_run_dir(cfg)
    # Unresolvable before Hydra has made the run directory (a check run ahead of the job): nothing to compare then.
    own_dir = OmegaConf.select(cfg, "paths.output_dir", throw_on_resolution_failure=False)
    if own_dir and run_dir.resolve() == Path(str(own_dir)).resolve():
        raise OdinError(f"publish.run_dir={run_dir} is this publish run's own directory: Hydra has written the publish "
                        "config over its .hydra/; run the publish with its own hydra.run.dir")
    run = read_run(run_dir, checkpoint=p.checkpoint, merged=p.merged, results_file=p.results_file)
    check_llama_name(run.config.model, str(p.repo_id))
    select_files(run.model_dir, run.merged)  # refuses full weights, needs the tokenizer
    return run


def _check_dataset(cfg: DictConfig) -> Path:
    from odin.hub.dataset import check_data_dir

    p = cfg.publish
    for key in ("run_dir", "checkpoint", "results_file", "dataset_repo_id", "license"):
        if p[key]:
            raise OdinError(f"publish.{key} is for publish.what=model; a dataset is published from publish.data_dir")
    if p.merged:
        raise OdinError("publish.merged is for publish.what=model")
    if not p.data_dir:
        raise OdinError("publish.what=dataset needs publish.data_dir=<a prepared data directory, e.g. <run>/data>")
    data_dir = Path(str(p.data_dir)).expanduser()
    check_data_dir(data_dir)
    return data_dir


def run(ctx) -> dict[str, float]:
    cfg = ctx.cfg
    target = check(cfg)
    p = cfg.publish
    if p.dry_run:
        bundle = dry_run(cfg, target, publish_dir(cfg, target, ctx.run_dir))
        return {"files": float(len(bundle.files))}
    from odin.hub.upload import find_token, hub_tags

    result = publish(cfg, target, token=find_token())
    path = ctx.run_dir / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    ctx.tracker.set_tags(hub_tags(result))
    ctx.tracker.log_artifact(path)
    if str(p.what) == "model" and str(cfg.tracking.backend) == "mlflow":
        from odin.tracking.registry import tag_published

        versions = tag_published(cfg, target.run_dir, hub_tags(result))
        if versions:
            ctx.tracker.set_tags({"odin.registry_versions": ",".join(versions)})
    print(f"Published {len(result.files)} files to {result.url} (branch {result.revision}, commit {result.commit_sha})")
    return {"files": float(len(result.files))}


def build_bundle(cfg: DictConfig, target, staging: Path):
    from odin.hub.bundle import dataset_bundle, model_bundle

    p = cfg.publish
    if str(p.what) == "model":
        return model_bundle(target, str(p.repo_id), staging, license=p.license, dataset_repo_id=p.dataset_repo_id,
                            commit_message=p.commit_message)
    return dataset_bundle(target, staging, commit_message=p.commit_message)


def dry_run(cfg: DictConfig, target, out_dir: Path):
    """Write the files the commit would upload into `out_dir` (only there), print their list and the card."""
    from odin.hub.bundle import clear_dry_run, describe, write_dry_run

    clear_dry_run(out_dir)  # odin's own earlier dry run, and only that: stale files would mislead the review
    bundle = build_bundle(cfg, target, out_dir)
    write_dry_run(bundle, out_dir)
    print(describe(bundle, str(cfg.publish.repo_id)))
    print(f"\nDry run: nothing was uploaded. The files are in {out_dir}. The card ({out_dir / 'README.md'}):\n")
    print(bundle.card)
    return bundle


def publish(cfg: DictConfig, target, *, token: str):
    """Build the bundle in a temporary folder and upload it in one commit; returns the PublishResult."""
    from odin.hub.bundle import describe
    from odin.hub.upload import upload

    p = cfg.publish
    with tempfile.TemporaryDirectory(prefix="odin-publish-") as tmp:
        bundle = build_bundle(cfg, target, Path(tmp))
        log.info("%s", describe(bundle, str(p.repo_id)))
        return upload(bundle, str(p.repo_id), token=token, private=bool(p.private), revision=p.revision)
