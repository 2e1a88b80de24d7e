"""One annotated text, as every source produces it and every later step consumes it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from odin.extraction import Extraction

if TYPE_CHECKING:
    from odin.data.release import SourceOrigin


@dataclass(frozen=True)
class Example:
    id: str  # unique within a dataset, e.g. "ade:10030778:3"
    doc_id: str  # the document it comes from (PMID): splits keep a document's examples together
    text: str
    extraction: Extraction
    source: str  # the name of the source that read it (odin/data/sources/<name>.py)
    split: Optional[str] = None  # the corpus's own split (train | val | test), where it has one


@dataclass
class SourceResult:
    """What a source module returns: its examples and what it could not use, counted by reason."""

    examples: list[Example]
    dropped: Counter = field(default_factory=Counter)  # e.g. {"relation type Comparison": 12, "entity type Gene": 40}
    origin: Optional[SourceOrigin] = None  # the files read and whether they are the release's (corpora)
    # Examples for the training split alone, added after the splits are drawn (so val and test stay as without them);
    # one whose document is in val or test is left out. E.g. data.sources.ade.negatives=train.
    train_only: list[Example] = field(default_factory=list)
