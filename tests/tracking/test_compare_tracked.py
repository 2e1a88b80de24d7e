"""task=compare over runs tracked in MLflow, the champion as the reference, and the significance gate of the registry,
against a real `mlflow server` (the `mlflow_server` fixture). The runs are hand-made run directories (no model),
logged by odin's own backfill, then deleted: everything compared is read back from the store."""

from __future__ import annotations

import csv
import logging
import shutil
import uuid

import pytest
from mlflow import MlflowClient

from compare_runs import answers, note, write_failure, write_hydra, write_run
from conftest import odin_cli
from odin.compare import compare_records, load_run, with_reference
from odin.errors import OdinError
from odin.tracking.backfill import log_record, read_run
from odin.tracking.registry import register
from odin.tracking.results import champion_record, experiment_records, open_store
from odin.tracking.significance import Significance

N = 200


def generations() -> dict[str, list[str]]:
    """v13 finds 70 % of the symptoms; v14 is v13 with 3 notes fixed and 2 broken (a tiny, noisy gain); v16 is right
    on every note."""
    base = answers(N, 0.7, seed=1)
    missed = [i for i, g in enumerate(base) if "Symptom" not in g]
    found = [i for i, g in enumerate(base) if "Symptom" in g]
    noisy = list(base)
    for i in missed[:3]:
        noisy[i] = answers(N, 1.0, seed=0)[i]
    for i in found[:2]:
        noisy[i] = answers(N, 0.0, seed=0)[i]
    return {"v13": base, "v14": noisy, "v16": answers(N, 1.0, seed=0)}


@pytest.fixture(scope="module")
def store(mlflow_server, tmp_path_factory):
    """An experiment holding three evaluated runs, a failed one, a prepare-only one and a sweep's parent run; the
    run directories they were logged from are gone. Yields (client, experiment name, run ids, rescored records)."""
    root = tmp_path_factory.mktemp("tracked") / "outputs" / "2026-11-20"
    dirs = {}
    for n, (version, gens) in enumerate(generations().items()):
        d = write_run(root / f"1{n}-00-00_pipeline_{version}", gens, config={"version": version},
                      overrides=[f"+experiment={version}"])
        (d / "final_model").mkdir()
        (d / "final_model" / "adapter_config.json").write_text("{}")  # what the registry needs of a trained model
        dirs[version] = d
    dirs["v15"] = write_failure(root / "14-00-00_pipeline_v15", {"version": "v15"}, ["+experiment=v15"])
    dirs["prep"] = root / "15-00-00_prepare"
    write_hydra(dirs["prep"], {"version": "v13", "task": "prepare"})
    direct = {v: load_run(d) for v, d in dirs.items() if v in ("v13", "v14", "v16")}

    client = MlflowClient(mlflow_server)
    name = f"compare-{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(name)
    ids = {v: log_record(client, experiment, read_run(d, 10)[0]) for v, d in dirs.items()}
    client.create_run(experiment, run_name="v16-sweep-x", tags={"odin.task": "sweep"})
    shutil.rmtree(root)
    return client, name, ids, direct


def test_an_experiments_runs_compare_as_their_run_dirs_do(store, caplog):
    client, name, ids, direct = store
    with caplog.at_level(logging.INFO, logger="odin.tracking.results"):
        runs = experiment_records(open_store(client.tracking_uri), name)
    assert [r.config["version"] for r in runs] == ["v13", "v14", "v16", "v15"]  # oldest first
    assert [r.status for r in runs] == ["ok", "ok", "ok", "FAILED"] and "CUDA out of memory" in runs[3].reason
    assert runs[0].path.as_posix() == f"runs:/{ids['v13']}" and runs[0].overrides == ["+experiment=v13"]
    assert "task=prepare" in caplog.text and "the parent run of a sweep" in caplog.text
    assert "Experiment " + name + ": 6 runs, 4 compared" in caplog.text
    for run in runs[:3]:  # read back from the store, the same numbers as from the directories
        same = direct[run.config["version"]]
        assert run.metrics == same.metrics and (run.counts == same.counts).all() and run.examples == same.examples
    assert not any(k.startswith("paths.") for r in runs for k in r.config)


@pytest.mark.slow  # tracked runs, a registration and task=compare through the CLI
def test_task_compare_on_an_experiment_with_the_champion_as_reference(store, tmp_path):
    client, name, ids, _ = store
    model = f"odin-compare-{uuid.uuid4().hex[:8]}"
    register(client, model, client.get_run(ids["v13"]), alias="champion", rule=["relation_f1"], force=False)
    out = tmp_path / "compare"
    res = odin_cli("task=compare", f"compare.experiment={name}", "compare.reference=champion",
                   "compare.filter='tags.odin.version != \"v15\"'", f"tracking.uri={client.tracking_uri}",
                   f"tracking.registered_model_name={model}", "tracking=none", f"hydra.run.dir={out}", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = list(csv.DictReader(open(out / "compare.csv", encoding="utf-8")))
    assert [r["run"] for r in rows] == ["v13 (champion, version 1)", "v14", "v16"]
    assert rows[0]["dir"] == f"runs:/{ids['v13']}" and rows[0]["relation_f1_vs_reference"] == ""
    assert float(rows[2]["relation_f1_vs_reference_low"]) > 0
    assert "v16 vs v13 (champion, version 1): relation F1 +" in res.stdout


def test_the_champion_reference_joins_run_directories(store, tmp_path):
    client, _, ids, _ = store
    model = f"odin-ref-{uuid.uuid4().hex[:8]}"
    register(client, model, client.get_run(ids["v13"]), alias="champion", rule=["relation_f1"], force=False)
    champion = champion_record(client, model, "champion")
    assert champion.role == "champion, version 1" and champion.ok
    records = [note(i)[0] for i in range(N)]
    mine = write_run(tmp_path / "mine", generations()["v16"], records=records, config={"version": "v17"})
    runs, ref = with_reference([load_run(mine)], champion)
    c = compare_records(runs, reference=ref)
    assert c.labels == ["v13 (champion, version 1)", "v17"] and c.differences[1]["relation_f1"].low > 0


def test_no_champion_no_experiment_no_store_are_clear_errors(store, tmp_path):
    client, name, _, _ = store
    with pytest.raises(OdinError, match="has no `champion` of odin-nobody"):
        champion_record(client, "odin-nobody", "champion")
    with pytest.raises(OdinError, match=f"compare.experiment=nope: no such MLflow experiment .* it has .*{name}"):
        experiment_records(client, "nope")
    with pytest.raises(OdinError, match="No MLflow store at sqlite:///"):
        open_store(f"sqlite:///{tmp_path / 'none.db'}")


def test_require_significant_moves_the_alias_only_on_a_real_gain(store):
    client, _, ids, _ = store
    model = f"odin-gate-{uuid.uuid4().hex[:8]}"
    gate = {"alias": "champion", "rule": ["relation_f1", "entity_f1"], "force": False,
            "significance": Significance(resamples=1000, seed=42, confidence=0.95)}
    run = {v: client.get_run(ids[v]) for v in ("v13", "v14", "v16")}

    def champion():
        return client.get_model_version_by_alias(model, "champion").version

    assert register(client, model, run["v13"], **gate)[1].promote and champion() == "1"
    # v14 scores higher, so the rule alone would promote it; its gain is within noise.
    assert run["v14"].data.metrics["relation_f1"] > run["v13"].data.metrics["relation_f1"]
    version, decision = register(client, model, run["v14"], **gate)
    assert not decision.promote and champion() == "1"
    assert "beats the champion" in decision.reason and "but the gain is not significant: relation_f1 +" in \
        decision.reason and "includes 0 (paired bootstrap on the same 200 test examples" in decision.reason
    assert "the alias stays" in client.get_model_version(model, version).tags["odin.champion_decision"]
    version, decision = register(client, model, run["v16"], **gate)
    assert decision.promote and champion() == version
    assert "and the gain is significant: relation_f1 +" in decision.reason and "excludes 0" in decision.reason
    # The same two versions without the gate: the tiny gain takes the alias.
    plain = f"{model}-plain"
    register(client, plain, run["v13"], **{**gate, "significance": None})
    assert register(client, plain, run["v14"], **{**gate, "significance": None})[1].promote


def test_require_significant_refuses_a_rule_the_bootstrap_cannot_test(make_cfg, tmp_path):
    from odin.tasks.register import check

    run = tmp_path / "run"
    (run / "final_model").mkdir(parents=True)
    (run / "final_model" / "adapter_config.json").write_text("{}")
    base = ["task=register", f"register.run_dir={run}", "register.require_significant=true"]
    with pytest.raises(OdinError, match="resamples entity_f1 and relation_f1 only; register.rule has grounding_rate"):
        check(make_cfg([*base, "register.rule=[relation_f1,grounding_rate]"]))
    with pytest.raises(OdinError, match="compare.resamples .at least 1000, now 100"):
        check(make_cfg([*base, "compare.resamples=100"]))
    check(make_cfg(base))
