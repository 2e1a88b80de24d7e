"""Is the Hugging Face Hub reachable? Answered in a few seconds, before any work that needs it.

Left to themselves, transformers and datasets retry an unreachable Hub for 25 to 50 s before their error. odin asks
once instead: the Hub's own offline mode (HF_HUB_OFFLINE=1) answers at once, else one short request to the endpoint.
"""

from __future__ import annotations

import functools

from odin.errors import OdinError

PROBE_TIMEOUT_S = 2.0


@functools.cache
def hub_reachable() -> bool:
    """Whether the Hub endpoint answers (any HTTP status counts); False in offline mode. Asked once per process."""
    import httpx
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        httpx.head(constants.ENDPOINT, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return True


def require_hub(what: str, fix: str) -> None:
    """An OdinError saying that `what` needs the Hub, which is not reachable, and `fix`; nothing when it is."""
    if hub_reachable():
        return
    from huggingface_hub import constants

    why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else f"{constants.ENDPOINT} does not answer"
    raise OdinError(f"{what} would come from the Hugging Face Hub, which is not reachable here ({why}). {fix}")


def cached_on_hub(repo_id: str, filename: str = "config.json", revision: str | None = None) -> bool:
    """Whether `filename` of hub repo `repo_id` is already in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, filename, revision=revision), str)
    except Exception:  # an id that is not a valid repo name cannot be cached either
        return False
