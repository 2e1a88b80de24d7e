"""One commit to the Hugging Face Hub through huggingface_hub's `HfApi`, with the token checked first.

Order: the token is looked up before anything is requested (huggingface_hub's own lookup: HF_TOKEN, then the
`hf auth login` cache), `whoami` proves it before anything is uploaded, then the repo is created if missing (private
if asked), the branch is created if missing, and every file goes up in one commit. A commit is all or nothing, so an
interrupted publish leaves the repo as it was, and running it again completes it: files the Hub already holds with the
same content are not sent again, and a rerun with nothing new makes no empty commit.

The token is passed to the client and nowhere else: no log line, card, config or file holds it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from odin.errors import OdinError
from odin.hub.bundle import Bundle

log = logging.getLogger(__name__)

TOKEN_HELP = ("set HF_TOKEN to a token with write access (https://huggingface.co/settings/tokens) or run "
              "`hf auth login`; or review the files without uploading with publish.dry_run=true")


@dataclass(frozen=True)
class PublishResult:
    repo_id: str
    repo_type: str
    revision: str
    url: str  # the repo's page
    commit_sha: str
    commit_url: str
    files: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"repo_id": self.repo_id, "repo_type": self.repo_type, "revision": self.revision, "url": self.url,
                "commit_sha": self.commit_sha, "commit_url": self.commit_url, "files": list(self.files)}


def hub_tags(result: PublishResult) -> dict[str, str]:
    """Where a publish went, as MLflow tags: on the publish run, and on the registered versions of the run it
    published (odin/tracking/registry.py `tag_published`)."""
    return {"odin.hub_repo_id": result.repo_id, "odin.hub_url": result.url, "odin.hub_revision": result.revision,
            "odin.hub_commit": result.commit_sha}


def find_token() -> str:
    """The user's Hub token from the usual places, or an OdinError saying how to provide one. Requests nothing."""
    from huggingface_hub import constants, get_token

    if constants.is_offline_mode():
        raise OdinError("HF_HUB_OFFLINE is set, so the Hub cannot be reached: unset it to publish, or use "
                        "publish.dry_run=true to write the files locally")
    token = get_token()
    if not token:
        raise OdinError(f"No Hugging Face token found: {TOKEN_HELP}")
    return token


def token_source() -> str:
    return "HF_TOKEN" if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") else \
        "the token saved by `hf auth login`"


def upload(bundle: Bundle, repo_id: str, *, token: str, private: bool = False,
           revision: str | None = None) -> PublishResult:
    import httpx
    from huggingface_hub import CommitOperationAdd, HfApi

    failed = (OSError, httpx.HTTPError)  # HfHubHTTPError is both; a dropped connection only the latter
    api = HfApi(token=token)
    branch = revision or "main"
    _authenticate(api, repo_id)
    try:
        repo_url = api.create_repo(repo_id, repo_type=bundle.repo_type, private=private, exist_ok=True)
        info = api.repo_info(repo_id, repo_type=bundle.repo_type)
    except failed as err:
        raise OdinError(f"Could not create or read the {bundle.repo_type} repo {repo_id} on {api.endpoint}: "
                        f"{_first_line(err)}") from err
    if private and not info.private:
        raise OdinError(f"publish.private=true, but the {bundle.repo_type} repo {repo_id} already exists and is "
                        "public: nothing was uploaded. Make it private in its settings on the Hub, or publish to "
                        "another repo_id")
    try:
        if branch != "main":
            api.create_branch(repo_id, repo_type=bundle.repo_type, branch=branch, exist_ok=True)
        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(f)) for p, f in bundle.files.items()]
        log.info("Uploading %d files to %s (%s, branch %s)", len(operations), repo_id, bundle.repo_type, branch)
        commit = api.create_commit(repo_id, operations, commit_message=bundle.commit_message,
                                   commit_description=bundle.commit_description, repo_type=bundle.repo_type,
                                   revision=branch)
    except failed as err:
        raise OdinError(f"Upload to {repo_id} (branch {branch}) failed: {_first_line(err)}. A commit is all or "
                        "nothing, so the repo is as it was: run the same command again to complete it") from err
    log.info("Committed %s to %s: %s", commit.oid[:12], repo_id, commit.commit_url)
    return PublishResult(repo_id, bundle.repo_type, branch, str(repo_url), commit.oid, commit.commit_url,
                         tuple(bundle.files))


def _authenticate(api, repo_id: str) -> dict:
    """whoami: a rejected or read-only token, or a namespace the user cannot write to, stops before any upload."""
    import httpx

    try:
        user = api.whoami()
    except (OSError, httpx.HTTPError) as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status == 401:
            raise OdinError(f"The Hugging Face token ({token_source()}) was rejected by {api.endpoint} (401 "
                            f"Unauthorized): nothing was uploaded. Renew it: {TOKEN_HELP}") from err
        raise OdinError(f"Could not reach {api.endpoint} to check the token: {_first_line(err)}") from err
    role = ((user.get("auth") or {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise OdinError(f"The Hugging Face token ({token_source()}) is read-only: nothing was uploaded. "
                        f"Use a token with write access: {TOKEN_HELP}")
    namespace = repo_id.split("/")[0]
    owners = [user.get("name")] + [org.get("name") for org in user.get("orgs") or []]
    if "orgs" in user and namespace not in owners:
        raise OdinError(f"publish.repo_id={repo_id}: the token belongs to {user.get('name')}, who can write to "
                        f"{', '.join(o for o in owners if o)}, not to {namespace}. Use one of those namespaces")
    log.info("Publishing as %s", user.get("name"))
    return user


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
