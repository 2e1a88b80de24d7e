#!/usr/bin/env bash
# The ADE benchmark of BENCHMARKS.md, on the lent GPU machine (see bench/gpu_env.sh for what the calls carry).
#   [NAME=run_name] bash bench/gpu_ade.sh prepare|hf|unsloth|zeroshot [extra overrides...]
# Each step is one `python -m odin` command, the one a user would type; logs and results are copied to $OUT.
set -uo pipefail
. bench/gpu_env.sh
step=$1; shift; name=${NAME:-$step}
runs=/tmp/runs; out=${OUT:-/tmp/out}; mkdir -p "$runs" "$out"
exp=(+experiment=v16_smollm2_ade tracking=none)
case $step in
  prepare) cmd=(python -m odin "${exp[@]}" task=prepare hydra.run.dir=$runs/$name) ;;
  hf|unsloth) cmd=(python -m odin "${exp[@]}" model.backend=$step data.prepared_dir=$runs/prepare/data
                   hydra.run.dir=$runs/$name) ;;
  zeroshot) cmd=(python -m odin "${exp[@]}" task=eval eval.base_model=true model.backend=hf
                 data.prepared_dir=$runs/prepare/data hydra.run.dir=$runs/$name) ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
esac
echo "+ ${cmd[*]} $*"
start=$(date +%s%N)
"${cmd[@]}" "$@" > "$out/$name.stdout" 2>&1
rc=$?
echo "$name rc=$rc wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))" | tee -a "$out/$name.stdout"
dir=$runs/$name
for f in "$dir"/*.log "$dir"/evaluation_results.json "$dir"/trainer_state.json "$dir"/data/stats.json; do
  [ -f "$f" ] && cp "$f" "$out/$name.$(basename "$f")"
done
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader >> "$out/$name.stdout" 2>/dev/null
tail -25 "$out/$name.stdout"
exit $rc
