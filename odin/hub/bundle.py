"""What one commit uploads: each file by its path in the repo, the card, and the commit's message.

A bundle is built the same way for a dry run and an upload: generated files (the card, the Hub's adapter_config.json,
the Parquet splits) are written into a staging folder, files that already exist (adapter weights, tokenizer) are
referenced where they are. A dry run then copies everything into `<run>/publish/<what>/`, which is byte for byte the
tree the repo receives, and lists what it wrote in `<run>/publish/<what>.manifest.json`: the next dry run removes
those files and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from odin.errors import OdinError
from odin.hub.run import TrainedRun

CARD = "README.md"


@dataclass
class Bundle:
    repo_type: str  # model | dataset
    files: dict[str, Path]  # path in the repo -> local file
    commit_message: str
    commit_description: str = ""
    skipped: dict[str, str] = field(default_factory=dict)  # local files left out -> why

    @property
    def card(self) -> str:
        return self.files[CARD].read_text(encoding="utf-8")


def model_bundle(run: TrainedRun, repo_id: str, staging: Path, *, license: str | None = None,
                 dataset_repo_id: str | None = None, commit_message: str | None = None) -> Bundle:
    from odin.hub.model_card import build_model_card
    from odin.hub.model_files import hub_adapter_config, select_files

    staging.mkdir(parents=True, exist_ok=True)
    local, skipped = select_files(run.model_dir, run.merged)
    files = {p.name: p for p in local}
    if not run.merged:
        model = run.config.model
        (staging / "adapter_config.json").write_bytes(
            hub_adapter_config(run.model_dir, str(model.name), model.get("revision")))
        files["adapter_config.json"] = staging / "adapter_config.json"
    card = build_model_card(run, repo_id, license=license, dataset_repo_id=dataset_repo_id)
    card.save(staging / CARD)
    files[CARD] = staging / CARD
    m = run.results["metrics"]
    kind = ("fully fine-tuned model" if run.full_finetune else "merged model" if run.merged
            else f"LoRA adapter ({run.model_dir.name})")
    message = commit_message or (f"odin {run.version}: {kind} of {run.config.model.name}, entity F1 "
                                 f"{_fmt(m.get('entity_f1'))}, relation F1 {_fmt(m.get('relation_f1'))}")
    description = (f"Published by odin from run {run.run_dir.name} (version {run.version}); scores on the "
                   f"{run.results['split']} split, {run.results['num_examples']} examples.")
    return Bundle("model", dict(sorted(files.items())), message, description, skipped)


def dataset_bundle(data_dir: Path, staging: Path, *, commit_message: str | None = None) -> Bundle:
    from odin.hub.dataset import data_name, export_dataset

    files, sizes = export_dataset(data_dir, staging)
    counts = ", ".join(f"{n:,} {split}" for split, n in sizes.items())
    message = commit_message or f"odin data {data_name(data_dir)}: {counts} records"
    return Bundle("dataset", dict(sorted(files.items())), message,
                  f"Published by odin from the prepared data in {Path(data_dir).parent.name}/{Path(data_dir).name}.")


def manifest_path(out_dir: Path) -> Path:
    """Beside a dry run's folder (`publish/model/` -> `publish/model.manifest.json`): the files odin wrote into it.
    Kept outside it, so the folder holds exactly what the commit would upload."""
    return out_dir.with_name(f"{out_dir.name}.manifest.json")


def clear_dry_run(out_dir: Path) -> None:
    """Remove what an earlier dry run wrote into `out_dir` (its manifest's files) and nothing else. A folder holding
    any file odin did not write is refused: stale files would mislead the review, and odin deletes only its own."""
    manifest = manifest_path(out_dir)
    listed = json.loads(manifest.read_text(encoding="utf-8"))["files"] if manifest.is_file() else []
    # Only paths inside the folder: a manifest edited to name "../x" must not reach beyond it.
    written = [name for name in listed if (out_dir / name).resolve().is_relative_to(out_dir.resolve())]
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if not out_dir.is_dir() or out_dir.is_symlink():
        raise OdinError(f"{out_dir} is in the way of the dry run and not a folder odin wrote: move it away")
    foreign = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*")
                     if not p.is_dir() and str(p.relative_to(out_dir)) not in written)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OdinError(f"{out_dir} holds files that no odin dry run wrote there ({shown}); odin deletes only what "
                        "it wrote. Move them away (or delete the folder) and run the dry run again")
    for name in written:
        (out_dir / name).unlink(missing_ok=True)
    for folder in sorted({(out_dir / name).parent for name in written} | {out_dir}, key=lambda p: -len(p.parts)):
        try:
            folder.rmdir()
        except OSError:  # not empty: a folder of the user's is left as it is
            pass


def write_dry_run(bundle: Bundle, out_dir: Path) -> None:
    """Make `out_dir` hold exactly the files the commit would upload (files staged there already stay put), and
    list them in its manifest, so the next dry run can replace them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path_in_repo, local in bundle.files.items():
        target = out_dir / path_in_repo
        if local.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, target)
        bundle.files[path_in_repo] = target
    manifest_path(out_dir).write_text(json.dumps({"written_by": "odin task=publish publish.dry_run=true",
                                                  "files": sorted(bundle.files)}, indent=2) + "\n", encoding="utf-8")


def describe(bundle: Bundle, repo_id: str) -> str:
    """The file list a user reviews: path, size and sha256 of each file, then what was left out and why."""
    lines = [f"{bundle.repo_type} repo {repo_id}, commit \"{bundle.commit_message}\":"]
    for path_in_repo, local in bundle.files.items():
        lines.append(f"  {path_in_repo:<32} {local.stat().st_size:>12,} bytes  sha256 {sha256(local)[:16]}")
    for name, why in bundle.skipped.items():
        lines.append(f"  (left out: {name}: {why})")
    return "\n".join(lines)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
