"""One module per corpus, and the registry that finds them.

Each module here knows one corpus and nothing of splits, templates or models. A module that defines
`SOURCE = Source(...)` is a source: it declares, once, its name, its config dataclass (the schema of
`data.sources.<name>`), how to load it, its release manifest and the facts the dataset card states. The config
schema (`odin.schema.SourcesConfig`), the prepare pipeline, its checks and the dataset card all loop over
`registry()`, so adding a corpus is one module here and one YAML in conf/data/.

Modules are imported when the registry is first read (the schema does so at import), so they keep heavy libraries
inside their functions.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from odin.errors import OdinError

if TYPE_CHECKING:
    from odin.data.example import Example, SourceResult
    from odin.data.release import Release


@dataclass(frozen=True)
class CardFacts:
    """What the dataset card says about a source, beside the counts of what was read."""

    pretty_name: str  # e.g. "BioCreative V CDR"
    license: str  # Hub licence id (huggingface.co/docs/hub/repositories-licenses); "other" when none fits
    license_name: Optional[str]  # with license "other": a short name, e.g. "public-domain"
    terms: str  # the licence or terms of use, in words
    citation: str  # what users of the data must cite; "" when there is nothing to cite
    content: str  # what the corpus holds, in words; no counts (the card counts what was actually read)
    # How the corpus maps onto odin's types: a sentence, or a function of the source's config that writes it.
    mapping: Union[str, Callable[[Any], str]]
    source_dataset: Optional[str] = None  # the card's `source_datasets` entry, e.g. "extended|bigbio/bc5cdr"

    def mapping_for(self, src_cfg: Any) -> str:
        return self.mapping(src_cfg) if callable(self.mapping) else self.mapping

    @property
    def hub_id(self) -> Optional[str]:
        """The corpus' Hugging Face Hub dataset id (`source_dataset` without its `extended|`), None when it has none
        (odin's own generator, the user's files)."""
        _, _, hub_id = (self.source_dataset or "").rpartition("|")
        return hub_id if "/" in hub_id else None


@dataclass(frozen=True)
class Source:
    name: str  # the key under data.sources, and Example.source
    config: type  # its config dataclass
    load: Callable[[Any, Optional[str]], "SourceResult"]  # (its config, paths.raw_data_dir) -> examples
    card: CardFacts
    release: Optional["Release"] = None  # the official release's files (real corpora)
    # Settings checks that need no data read (run before any work starts); raise OdinError.
    check: Optional[Callable[[Any, Optional[str]], None]] = None
    # Generators only: `n` distinct training examples on demand (data.synthetic_ratio sizes them).
    sample: Optional[Callable[[Any, int], "list[Example]"]] = None


def discover(package: ModuleType) -> dict[str, Source]:
    """The sources among `package`'s modules (those defining `SOURCE`), by name."""
    found: dict[str, Source] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        source = getattr(module, "SOURCE", None)
        if not isinstance(source, Source):
            continue
        if source.name != info.name:
            raise TypeError(f"{module.__name__} declares the source {source.name!r}; a source is named after its "
                            f"module ({info.name!r}), so that data.sources.<name> finds its file")
        found[source.name] = source
    return found


@cache
def registry() -> dict[str, Source]:
    """Every source odin knows, by name (sorted): the modules of odin/data/sources/ that define `SOURCE`."""
    import odin.data.sources as package

    return discover(package)


def card_facts(name: str) -> CardFacts:
    """What the cards say about the source `name`; for a name odin does not know (data prepared by another version),
    facts that say so rather than a guess."""
    source = registry().get(name)
    if source is not None:
        return source.card
    return CardFacts(name, "other", "unknown", "unknown: check before publishing", "", "", "")


def get_source(name: str) -> Source:
    sources = registry()
    if name not in sources:
        raise OdinError(f"Unknown data source {name!r}; odin's sources are {', '.join(sources)}")
    return sources[name]


def corpus_location(name: str, path: Optional[str], raw_data_dir: Optional[str]) -> Optional[tuple[Path, str]]:
    """Where a corpus' files are and which config key said so: `data.sources.<name>.path`, else
    `<paths.raw_data_dir>/<name>`; None when neither is set (the source then uses the Hub or says how to get it).
    A location that is set but missing is an error naming the key."""
    if path:
        location, key = Path(path).expanduser(), f"data.sources.{name}.path"
    elif raw_data_dir:
        location, key = Path(raw_data_dir).expanduser() / name, "paths.raw_data_dir"
    else:
        return None
    if not location.exists():
        raise OdinError(f"{name} data {location} (from {key}) does not exist; point {key} at the corpus files")
    return location, key
