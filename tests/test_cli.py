"""First contact with `python -m odin`, run as a user runs it, from a fresh working directory: runs never share a
directory, every mistake is caught before any work with one line naming the key (and leaves nothing behind), the
offline and missing-corpus answers come before torch is imported, and --help teaches the tasks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import REPO, TINY_RUN, free_port

PYTHON_PATH = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)


def odin_in(cwd: Path, *args: str, env: dict | None = None, timeout: int = 300,
            python: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`python -m odin <args>` started in `cwd` (a folder of the test's own: its outputs/ and multirun/ land
    there, by Hydra's default naming), offline."""
    return subprocess.run([sys.executable, *python, "-m", "odin", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout,
                          env={**os.environ, "PYTHONPATH": PYTHON_PATH, "HF_HUB_OFFLINE": "1", **(env or {})})


def left_behind(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- run directories -------------------------------------------------------------------------------------------------


@pytest.mark.slow  # four odin processes at once
def test_four_runs_started_at_once_get_four_complete_directories_of_their_own(tmp_path):
    sizes = [60, 61, 62, 63]  # one per run, so each directory shows whose it is
    procs = [subprocess.Popen([sys.executable, "-m", "odin", "task=prepare", "model=tiny_random", "tracking=none",
                               f"data.sources.synthetic.num_examples={n}"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": PYTHON_PATH, "HF_HUB_OFFLINE": "1"})
             for n in sizes]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    runs = sorted((tmp_path / "outputs").glob("*/*"))
    assert len(runs) == 4, runs
    host = re.escape(_short_hostname())
    for run in runs:
        # <date>/<time>_<task>_<process id>@<host>: sorts by time, says the task, unique across processes and hosts
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", run.parent.name)
        assert re.fullmatch(rf"\d{{2}}-\d{{2}}-\d{{2}}_prepare_\d+@{host}", run.name), run.name
    seen = set()
    for run in runs:
        overrides = (run / ".hydra" / "overrides.yaml").read_text()
        [n] = [n for n in sizes if f"num_examples={n}" in overrides]
        seen.add(n)
        log = (run / "prepare.log").read_text()
        assert f"Source synthetic: {n} examples" in log
        assert sum("Source synthetic:" in line for line in log.splitlines()) == 1  # its own lines only
        stats = json.loads((run / "data" / "stats.json").read_text())
        assert stats["sources"]["synthetic"]["examples"] == n
        assert all((run / "data" / f"{split}.jsonl").is_file() for split in ("train", "val", "test"))
    assert seen == set(sizes)


def _short_hostname() -> str:
    from odin.distributed import short_hostname

    return short_hostname()


# --- unknown keys, however they got there ------------------------------------------------------------------------

LORA_RNK = ("lora.rnk is not a setting odin knows; did you mean lora.r? (LoraConfig in odin/schema.py lists the "
            "valid ones)")


@pytest.fixture
def extra_conf(tmp_path):
    """A config folder beside odin's (--config-dir): an experiment and saved sweeps with a typo in them."""
    conf = tmp_path / "extra_conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "hparams_search").mkdir()
    (conf / "experiment" / "typo.yaml").write_text("# @package _global_\nversion: vtypo\nlora:\n  rnk: 8\n")
    for name, key in (("typo", "lora.rnk"), ("typo_plus", "+lora.rnk")):
        (conf / "hparams_search" / f"{name}.yaml").write_text(
            f"# @package _global_\nhydra:\n  mode: MULTIRUN\n  sweeper:\n    params:\n      {key}: 8,16\n")
    return conf


@pytest.mark.parametrize("args,message", [
    (["lora.rnk=8"], LORA_RNK),  # Hydra's own advice would be to add it with +
    (["+lora.rnk=8"], LORA_RNK),
    (["++lora.rnk=8"], LORA_RNK),
    (["+experiment=typo"], f"experiment/typo.yaml: {LORA_RNK}"),
    (["+hparams_search=typo"], LORA_RNK),
    (["+hparams_search=typo_plus"], LORA_RNK),
    (["-m", "lora.rnk=8,16"], LORA_RNK),
    (["-m", "+lora.rnk=8,16"], LORA_RNK),
    (["+data.sources.ade.pth=x"], "data.sources.ade.pth is not a setting odin knows; did you mean "
                                  "data.sources.ade.path? (AdeSourceConfig in odin/data/sources/ade.py lists the "
                                  "valid ones)"),
    # a config a group does not have: its real configs, not the schemas odin stores in the group
    (["lora=r99"], "lora=r99: the lora group has no config r99 (conf/lora/); its configs: attention_only, none, r8, "
                   "r16, r32, r64"),
    (["-m", "model=tiny_random,smolm2"], "model=smolm2: the model group has no config smolm2 (conf/model/); did "
                                         "you mean smollm2_135m? Its configs: gemma3_270m, llama31_8b_bnb4, "
                                         "llama31_8b_random, llama32_1b_instruct, smollm2_135m, tiny_random"),
], ids=["no-plus", "plus", "plus-plus", "experiment-file", "saved-sweep", "saved-sweep-plus", "sweep", "sweep-plus",
        "source-typo", "no-such-config", "no-such-config-swept"])
def test_an_unknown_key_stops_before_any_work_naming_the_closest_one(tmp_path, extra_conf, args, message):
    work = tmp_path / "work"
    work.mkdir()
    res = odin_in(work, "--config-dir", str(extra_conf), *args, "task=prepare", "tracking=none")
    assert res.returncode == 1
    assert res.stderr.strip() == f"error: {message}", res.stderr[-3000:]
    assert left_behind(work) == []  # no run or sweep directory, no empty outputs/


def test_a_group_only_the_jobs_choose_is_not_taken_for_a_setting(tmp_path):
    # The sweep's own config has no choice for a swept `+experiment`, so only the config tree says it is a group.
    res = odin_in(tmp_path, "-m", "+experiment=glob(v1)", "model=tiny_random", "task=prepare", "tracking=none",
                  f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = [data.parent.name for data in (tmp_path / "sweep").glob("*/data")]
    assert jobs == ["0_+experiment=v1,model=tiny_random,tracking=none"]


SOURCE_LEFT_OUT = ("data.sources.bc5cdr.weight sets a field of the bc5cdr source, which data=ade leaves out "
                   "(data.sources.bc5cdr is null): choose a data config that uses it (data=bc5cdr, data=mix), or drop "
                   "the setting")


@pytest.mark.parametrize("args,message", [
    (["data=ade", "data.sources.bc5cdr.weight=0.5"], SOURCE_LEFT_OUT),
    (["-m", "data=ade", "data.sources.bc5cdr.weight=0,1"], SOURCE_LEFT_OUT),
    (["-m", "data=mix,ade", "data.sources.bc5cdr.weight=0,1"], f"{SOURCE_LEFT_OUT} (in the jobs with data=ade)"),
    # A saved sweep's params on an experiment whose data has no ADE
    (["-m", "+experiment=v1", "+hparams_search=negatives"], "2 settings need fixing:\n" + "\n".join(
        f"  - data.sources.ade.{key} sets a field of the ade source, which data=synthetic leaves out "
        "(data.sources.ade is null): choose a data config that uses it (data=ade, data=mix), or drop the setting"
        for key in ("negatives", "negative_ratio"))),
], ids=["run", "sweep", "swept-data-config", "saved-sweep"])
def test_a_setting_of_a_source_the_data_config_leaves_out_is_named(tmp_path, args, message):
    res = odin_in(tmp_path, *args, "task=prepare", "tracking=none")
    assert res.returncode == 1
    assert res.stderr.strip() == f"error: {message}", res.stderr[-3000:]
    assert left_behind(tmp_path) == []


def test_other_config_errors_keep_hydra_s_own_report(tmp_path):
    res = odin_in(tmp_path, "training.epochs=three", "--cfg", "job")
    assert res.returncode == 1
    assert "Value 'three' of type 'str' could not be converted to Float" in res.stderr
    assert "full_key: training.epochs" in res.stderr and "Traceback" not in res.stderr
    assert left_behind(tmp_path) == []


# --- bad values: nothing left behind; a later failure keeps its record ----------------------------------------------


@pytest.mark.parametrize("args,message", [
    (["task=prepare", "eval.num_samples=-1"], "eval.num_samples=-1: must be >= 1 (a number of examples, or null for "
                                              "all)"),
    (["task=eval", "model=tiny_random"], "task=eval needs a model: eval.model_dir=<a run>/final_model (any saved "
                                         "adapter or merged model), or eval.base_model=true for the base model with "
                                         "no adapter (a zero-shot baseline)"),
])
def test_a_bad_value_is_reported_once_and_leaves_no_directory(tmp_path, args, message):
    res = odin_in(tmp_path, *args, "tracking=none")
    assert res.returncode == 1
    assert res.stderr.strip() == f"error: {message}", res.stderr[-3000:]
    assert left_behind(tmp_path) == []


def test_a_run_that_fails_after_validation_keeps_its_directory_with_failure_json(tmp_path):
    # Valid settings, then the work itself fails: the prepared directory it should read is cut after validation.
    data = tmp_path / "prepared"
    data.mkdir()
    for split in ("train", "val", "test"):
        (data / f"{split}.jsonl").write_text("this is not JSON\n")
    res = odin_in(tmp_path, "task=train", "model=tiny_random", "training=smoke", f"data.prepared_dir={data}",
                  "tracking=none")
    assert res.returncode == 1
    [run] = (tmp_path / "outputs").glob("*/*")
    failure = (run / "failure.json").read_text()
    assert '"status": "FAILED"' in failure
    assert (run / ".hydra" / "config.yaml").is_file() and (run / "train.log").is_file()


# --- offline, missing corpora: answered before torch is imported ----------------------------------------------------


def imported(stderr: str) -> set[str]:
    """The modules `python -X importtime` reports as imported."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


HUB_MODEL = ("Model 'meta-llama/Llama-3.2-1B-Instruct' would come from the Hugging Face Hub, which is not reachable "
             "here ({why}). Download it where the Hub is reachable (`hf download meta-llama/Llama-3.2-1B-Instruct "
             "--local-dir DIR`) and run with model.name=DIR, or use a model that ships with odin's setup: "
             "model=smollm2_135m.")


@pytest.mark.parametrize("args,message", [
    (["task=train", "model=llama32_1b_instruct"], HUB_MODEL.format(why="HF_HUB_OFFLINE is set")),
    (["task=pipeline", "data=bc5cdr", "paths.raw_data_dir=/nonexistent/raw"],
     "bc5cdr data /nonexistent/raw/bc5cdr (from paths.raw_data_dir) does not exist; point paths.raw_data_dir at the "
     "corpus files"),
], ids=["hub-model-offline", "missing-corpus"])
def test_a_model_task_reports_offline_and_missing_corpora_before_importing_torch(tmp_path, args, message):
    work = tmp_path / "work"
    work.mkdir()
    res = odin_in(work, *args, env={"HF_HOME": str(tmp_path / "hf")}, python=("-X", "importtime"))
    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if not line.startswith("import time:")]
    assert errors == [f"error: {message}"]
    modules = imported(res.stderr)
    assert "hydra" in modules  # the import log is there, so its silence about torch means something
    assert not {"torch", "transformers", "unsloth"} & modules
    assert left_behind(work) == []


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A local HTTP server answering every HEAD with the status given: `http_server(404)` -> its URL."""
    servers = []

    def start(status: int) -> str:
        handler = type("Handler", (_Answer,), {"status": status})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_hub_counts_as_reachable_only_when_it_answers_as_the_hub(http_server, monkeypatch):
    from huggingface_hub import constants

    from odin import offline

    def problem(endpoint: str) -> str | None:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        offline.hub_problem.cache_clear()
        try:
            return offline.hub_problem()
        finally:
            offline.hub_problem.cache_clear()

    assert problem(http_server(200)) is None
    assert problem(http_server(302)) is None
    proxy = http_server(404)
    assert problem(proxy) == (f"{proxy} answered HTTP 404 where the Hub answers 200: a proxy, or a wrong "
                              "HF_ENDPOINT?")
    assert "answered HTTP 502" in problem(http_server(502))
    closed = f"http://127.0.0.1:{free_port()}"
    assert problem(closed) == f"{closed} does not answer: ConnectError"


def test_a_proxy_answering_404_is_reported_at_once_not_retried(tmp_path, http_server):
    proxy = http_server(404)
    work = tmp_path / "work"
    work.mkdir()
    res = odin_in(work, "task=train", "model=llama32_1b_instruct", timeout=60,
                  env={"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": proxy, "HF_HOME": str(tmp_path / "hf")})
    assert res.returncode == 1
    why = f"{proxy} answered HTTP 404 where the Hub answers 200: a proxy, or a wrong HF_ENDPOINT?"
    assert res.stderr.strip() == f"error: {HUB_MODEL.format(why=why)}"
    assert left_behind(work) == []


# --- help ----------------------------------------------------------------------------------------------------------


def test_help_teaches_the_tasks_groups_examples_and_outputs(tmp_path):
    from odin.app import TASKS

    res = odin_in(tmp_path, "--help")
    assert res.returncode == 0, res.stderr
    page = res.stdout
    for name, spec in TASKS.items():  # every task of the table, one line each
        assert re.search(rf"^  {re.escape(name)} +{re.escape(spec.summary)}$", page, re.M), name
    assert "_schema" not in page
    for group in ("data", "experiment", "hparams_search", "lora", "model", "training", "tracking"):
        assert re.search(rf"^  {group}: +\S", page, re.M), group
    assert re.search(r"^  experiment: +v1 v2 v3 ", page, re.M)  # versions in their order
    assert len(re.findall(r"^  python -m odin", page, re.M)) == 5
    assert "== Outputs ==" in page and "failure.json" in page
    assert left_behind(tmp_path) == []


def test_hydra_help_stays_hydra_s(tmp_path):
    res = odin_in(tmp_path, "--hydra-help")
    assert res.returncode == 0
    assert res.stdout.startswith("Hydra (") and "--hydra-help" in res.stdout


# --- a clean run: odin's lines, progress bars and the results; results that say what produced them ------------------


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    """The quickstart's path (prepare -> train -> eval, tracked in MLflow) on the tiny model, from the command line."""
    work = tmp_path_factory.mktemp("pipeline")
    res = odin_in(work, *TINY_RUN, "version=vprov", "seed=7", timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    [run] = (work / "outputs").glob("*/*")
    return res, run


def test_a_clean_run_prints_no_library_warning(tiny_pipeline):
    res, _ = tiny_pipeline
    odins_own = re.compile(r"^\[[\d\-: ,]+\]\[odin[.\w]*\]\[(INFO|WARNING)\] - ")  # odin's log lines (its own warnings)
    noise = [line for line in res.stderr.splitlines() if re.search(r"warn", line, re.I) and not odins_own.match(line)]
    assert noise == []
    assert "Adapter saved to" in res.stderr  # the run's own lines are there


def test_the_results_say_what_produced_them(tiny_pipeline):
    import odin
    from odin.evaluation import examples_sha1

    _, run = tiny_pipeline
    results = json.loads((run / "evaluation_results.json").read_text())
    prov = results["provenance"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                            text=True).stdout
    test_ids = [json.loads(line)["id"] for line in (run / "data" / "test.jsonl").read_text().splitlines()]
    assert [e["id"] for e in results["examples"]] == test_ids[:4]  # eval.num_samples=4: the first four
    assert prov == {
        "version": "vprov", "data": "synthetic", "data_sources": ["synthetic"], "data_dir": str(run / "data"),
        "split": "test", "examples_sha1": examples_sha1(results["examples"]), "seed": 7,
        "generation": OmegaConf.to_container(OmegaConf.load(run / ".hydra" / "config.yaml").generation),
        "git_commit": head, "git_dirty": bool(status.strip()), "odin_version": odin.__version__,
    }
    assert re.fullmatch(r"[0-9a-f]{40}", prov["examples_sha1"]) and re.fullmatch(r"[0-9a-f]{40}", head)
