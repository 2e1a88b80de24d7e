"""The training speed switches' needs and parts (README "Speed switches"): which attention keeps the examples of a
padding-free batch apart cheaply, what Liger's kernels and block compilation need, and the compilation itself.
Each check raises an OdinError naming the switch to turn off; train.check_libraries calls them before any work."""

from __future__ import annotations

from odin.errors import OdinError

# Attention that keeps the examples of a padding-free batch apart without a dense (tokens x tokens) mask.
_BOUNDARY_AWARE_ATTENTION = ("flash", "flex")


def respects_boundaries_sparsely(attn_implementation: str | None, backend: str) -> bool:
    """Whether padding-free batches get varlen or block-sparse attention (Unsloth picks its own kernels)."""
    return backend == "unsloth" or any(k in str(attn_implementation or "") for k in _BOUNDARY_AWARE_ATTENTION)


def check_liger(cuda: bool, backend: str) -> None:
    """training.use_liger_kernel's needs: the hf backend, a CUDA GPU (Triton) and the liger-kernel package."""
    import importlib.util

    if backend == "unsloth":
        raise OdinError("training.use_liger_kernel=true patches the hf backend's model with Liger's kernels; the "
                        "unsloth backend brings its own. Set model.backend=hf, or training.use_liger_kernel=false")
    if not cuda:
        raise OdinError("training.use_liger_kernel=true needs a CUDA GPU (Liger's kernels are Triton kernels) and "
                        "there is none here: set training.use_liger_kernel=false")
    if importlib.util.find_spec("liger_kernel") is None:
        raise OdinError("training.use_liger_kernel=true needs the liger-kernel package, which is not installed: "
                        "pip install liger-kernel, or set training.use_liger_kernel=false")


def check_compile(backend: str) -> None:
    """training.compile's needs: the hf backend (Unsloth compiles its own kernels)."""
    if backend == "unsloth":
        raise OdinError("training.compile=true compiles the hf backend's blocks; Unsloth compiles its own. Set "
                        "model.backend=hf, or training.compile=false")


def compile_blocks(model) -> int:
    """torch.compile, in place, every transformer block of `model` (the classes its `_no_split_modules` names).

    The blocks of a decoder share one class and one forward, so Dynamo compiles it once and every layer reuses it:
    a compilation of seconds instead of the whole model's minutes. Shapes are dynamic from the start, because
    batches grouped by length differ in length. The weights and their names are untouched (`Module.compile` wraps
    the call, not the module), so checkpoints and adapters save as without it. Returns how many blocks were compiled.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = set(getattr(base, "_no_split_modules", None) or ())
    blocks = [m for m in model.modules() if type(m).__name__ in names]
    if not blocks:
        raise OdinError(f"training.compile=true found no transformer blocks to compile in {type(base).__name__} "
                        "(its _no_split_modules names none); set training.compile=false")
    for block in blocks:
        block.compile(dynamic=True)
    return len(blocks)
