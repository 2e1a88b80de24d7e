"""What a corpus's official release holds, and the check that the files odin reads are those files.

A corpus file cut at a line end still parses: a BC5CDR training file truncated between documents gave 261 of 500
abstracts with no error. So each corpus source declares its release (every file it may read, with its byte size,
full sha256 and the documents odin reads from it) and checks each file before parsing it and the document count
after. A difference is an OdinError naming the file, what was expected and what was found; with
`data.sources.<name>.allow_modified=true` (a corpus edited on purpose) it is a warning, and the record of what was
read, which the dataset card quotes, says the files differ from the release.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from odin.errors import OdinError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleaseFile:
    name: str  # path inside the corpus folder (for a Parquet export: inside the export's root)
    size: int  # bytes
    sha256: str
    documents: int  # what odin reads from the file, counted in `unit`
    unit: str = "documents"


@dataclass(frozen=True)
class Release:
    name: str  # how the release is known, e.g. "CDR.Corpus.v010516"
    files: tuple[ReleaseFile, ...]

    def get(self, name: str) -> Optional[ReleaseFile]:
        return next((f for f in self.files if f.name == name), None)


@dataclass
class FileRead:
    """One file as read: its identity (size, sha256), the documents read from it, and how it differs from the
    release (None when it is the release's file)."""

    name: str
    bytes: int
    sha256: str
    documents: Optional[int] = None
    unit: str = "documents"
    differs: Optional[str] = None


@dataclass
class SourceOrigin:
    """Where a source's examples came from: saved in stats.json and stated by the dataset card."""

    origin: str  # e.g. "local files", "the Hugging Face Hub (ade-benchmark-corpus/ade_corpus_v2)"
    release: Optional[str] = None  # the release the files were checked against
    files: list[FileRead] = field(default_factory=list)

    @property
    def matches_release(self) -> Optional[bool]:
        """True when every file read is the release's own; None when nothing was checked (the Hub, a generator)."""
        if self.release is None or not self.files:
            return None
        return all(f.differs is None for f in self.files)

    def to_dict(self) -> dict:
        return {**asdict(self), "matches_release": self.matches_release}


def digest(path: Path) -> tuple[int, str]:
    """(size in bytes, sha256 hex) of a file; the corpora are a few MB, so reading them whole is cheap."""
    data = Path(path).read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


class ReleaseCheck:
    """Checks the files one load of a source reads against its release, and records what was read."""

    def __init__(self, source: str, release: Release, allow_modified: bool, origin: str = "local files"):
        self.source, self.release, self.allow_modified = source, release, bool(allow_modified)
        self.record = SourceOrigin(origin, release.name)
        self._read: dict[str, FileRead] = {}

    @property
    def key(self) -> str:
        return f"data.sources.{self.source}.allow_modified"

    def file(self, path: Path, name: str) -> None:
        """Before parsing: `path` (the release's file `name`) has the release's size and sha256."""
        size, sha = digest(path)
        read = self._read[name] = FileRead(name, size, sha)
        self.record.files.append(read)
        expected = self.release.get(name)
        if expected is None:
            known = ", ".join(f.name for f in self.release.files)
            self._differs(path, read, f"is not a file of the {self.release.name} release (its files: {known})")
        elif (size, sha) != (expected.size, expected.sha256):
            read.unit = expected.unit
            self._differs(path, read, f"differs from the {self.release.name} release: expected {expected.size:,} "
                                      f"bytes with sha256 {expected.sha256[:16]}..., found {size:,} bytes with "
                                      f"sha256 {sha[:16]}...")
        else:
            read.unit = expected.unit

    def documents(self, path: Path, name: str, found: int) -> None:
        """After parsing: the number of documents read from the file is the release's."""
        read = self._read[name]
        read.documents = found
        expected = self.release.get(name)
        if expected is None or found == expected.documents:
            return
        what = f"{found:,} of the release's {expected.documents:,} {expected.unit} read"
        if read.differs is None:
            # The bytes are the release's, so the count can only be off if odin's reader lost documents.
            raise RuntimeError(f"{path} is the {self.release.name} release's file, yet odin read {found:,} "
                               f"{expected.unit} where it holds {expected.documents:,}: a bug in odin's reader")
        read.differs += f"; {what}"
        log.warning("%s: %s", path, what)

    def _differs(self, path: Path, read: FileRead, problem: str) -> None:
        if not self.allow_modified:
            raise OdinError(
                f"{path} {problem}. A cut or edited corpus file loses documents without any other error: restore "
                f"the original file, or set {self.key}=true if you changed the corpus on purpose (the dataset card "
                "then says the files differ from the release)."
            )
        read.differs = problem
        log.warning("%s %s; reading it anyway (%s=true)", path, problem, self.key)
