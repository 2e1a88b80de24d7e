"""Is the Hugging Face Hub reachable? Answered in a few seconds, before any work that needs it.

Left to themselves, transformers and datasets retry an unreachable Hub for 25 to 50 s before their error. odin asks
once instead: the Hub's own offline mode (HF_HUB_OFFLINE=1) answers at once, else one short request to the endpoint.
"""

from __future__ import annotations

import functools
import logging

from odin.errors import OdinError

PROBE_TIMEOUT_S = 2.0


@functools.cache
def hub_problem() -> str | None:
    """Why the Hub cannot be used from here, or None when it answers. Asked once per process, in one short request.

    Reachable means the endpoint answered the probe with a success or a redirect (huggingface.co answers 200). No
    answer within PROBE_TIMEOUT_S, or any error status (a proxy or captive portal answering 404, 407 or 502 for
    every address, a wrong HF_ENDPOINT), counts as unreachable: the libraries would only fail there later, some of
    them after retrying."""
    import httpx
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    requests_log = logging.getLogger("httpx")  # logs each request at INFO: the probe is not the user's business
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)
    try:
        status = httpx.head(constants.ENDPOINT, timeout=PROBE_TIMEOUT_S).status_code
    except httpx.HTTPError as err:
        return f"{constants.ENDPOINT} does not answer: {type(err).__name__}"
    finally:
        requests_log.setLevel(level)
    if status >= 400:
        return f"{constants.ENDPOINT} answered HTTP {status} where the Hub answers 200: a proxy, or a wrong HF_ENDPOINT?"
    return None


def require_hub(what: str, fix: str) -> None:
    """An OdinError saying that `what` needs the Hub, which is not reachable, and `fix`; nothing when it is."""
    why = hub_problem()
    if why is not None:
        raise OdinError(f"{what} would come from the Hugging Face Hub, which is not reachable here ({why}). {fix}")


def cached_on_hub(repo_id: str, filename: str = "config.json", revision: str | None = None) -> bool:
    """Whether `filename` of hub repo `repo_id` is already in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, filename, revision=revision), str)
    except Exception:  # an id that is not a valid repo name cannot be cached either
        return False
