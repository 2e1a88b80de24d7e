"""PubTator documents: the reader for BC5CDR and BioRED, and the document model that bioc.py produces too.

A PubTator document is a `PMID|t|title` line, a `PMID|a|abstract` line, tab-separated mention lines
`PMID start end mention type ids [individual mentions]`, relation lines `PMID type id1 id2 [Novel|No]`, and a blank
line. Offsets count into `title + " " + abstract`; every mention is checked against its span, and anything malformed
raises OdinError naming the file and line, so a broken corpus never loses annotations silently.

Traps the reader handles (see the raw data README): BioRED files have CRLF line endings; BC5CDR composite mentions
have a 7th column (the individual mentions) and several IDs joined by `|`; BioRED joins several IDs with `,` and its
SequenceVariant IDs contain `|` (e.g. `c|DEL|4153|A`), so the ID separator is a per-corpus argument and no line is ever
split on `|` beyond the title/abstract prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from odin.errors import OdinError

# IDs that mark an unnormalised mention: it names no concept, so no relation can point at it.
UNNORMALISED_IDS = frozenset({"-1", "-"})

# Only the prefix is split on `|`: the title or abstract itself may contain `|` (and tabs).
_TEXT_LINE = re.compile(r"([^\t|]+)\|([ta])\|")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    text: str
    type: str
    ids: tuple[str, ...]  # concept IDs as written (a composite or multi-concept mention carries several)
    components: tuple[str, ...] = ()  # BC5CDR composite mentions: the individual mentions of column 7
    where: str = ""  # "line 12" / "annotation 4": for error messages

    @property
    def concept_ids(self) -> tuple[str, ...]:
        return tuple(i for i in self.ids if i not in UNNORMALISED_IDS)


@dataclass(frozen=True)
class DocRelation:
    type: str
    id1: str
    id2: str
    novel: Optional[bool] = None  # BioRED's Novel/No; None where the corpus has no such column (BC5CDR)
    where: str = ""


@dataclass
class Document:
    pmid: str
    text: str  # title + " " + abstract: the string every offset counts into
    mentions: list[Mention] = field(default_factory=list)  # in text order
    relations: list[DocRelation] = field(default_factory=list)
    source: str = ""  # the file it was read from
    where: str = ""  # where in that file it starts

    def first_mentions(self, types: Iterable[str]) -> dict[str, Mention]:
        """Concept ID -> its first mention (in text order) among mentions of `types`.

        Relations in PubTator corpora link concepts, not mentions; the first mention is the string a reader meets
        first, so it is the one a relation is written with. A multi-concept mention counts for each of its IDs.
        """
        types = set(types)
        first: dict[str, Mention] = {}
        for m in self.mentions:
            if m.type in types:
                for cid in m.concept_ids:
                    first.setdefault(cid, m)
        return first


def read_pubtator(path: str | Path, id_separator: str = ",") -> list[Document]:
    """Documents of a PubTator file. `id_separator` joins several IDs in one mention: `|` for BC5CDR, `,` for BioRED."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise OdinError(f"PubTator file not found: {path}") from err
    except UnicodeDecodeError as err:
        raise OdinError(f"{path}: not UTF-8 text ({err})") from err
    return parse_pubtator(text, str(path), id_separator)


def parse_pubtator(text: str, source: str = "<string>", id_separator: str = ",") -> list[Document]:
    docs: list[Document] = []
    builder: Optional[_DocBuilder] = None
    # split("\n") rather than splitlines(): titles may hold characters splitlines() would break on.
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            if builder is not None:
                docs.append(builder.finish())
                builder = None
            continue
        where = f"line {lineno}"
        head = _TEXT_LINE.match(line)
        if head:
            pmid, kind, body = head.group(1), head.group(2), line[head.end():]
            if kind == "t":
                if builder is not None:  # a new title without a blank line in between still starts a new document
                    docs.append(builder.finish())
                builder = _DocBuilder(pmid, body, source, where)
            elif builder is None or builder.pmid != pmid or builder.abstract is not None:
                raise OdinError(f"{source}, {where}: abstract line for PMID {pmid} does not follow its title line")
            else:
                builder.set_abstract(body)
            continue
        if "\t" not in line:
            raise OdinError(
                f"{source}, {where}: expected a 'PMID|t|title' or 'PMID|a|abstract' line or a tab-separated "
                f"annotation line, got {line[:80]!r}"
            )
        if builder is None or builder.abstract is None:
            raise OdinError(f"{source}, {where}: annotation line before the document's title and abstract lines")
        builder.add(line.split("\t"), where, id_separator)
    if builder is not None:
        docs.append(builder.finish())
    return docs


class _DocBuilder:
    def __init__(self, pmid: str, title: str, source: str, where: str):
        self.pmid, self.title, self.source, self.where = pmid, title, source, where
        self.abstract: Optional[str] = None
        self.text = ""  # title + " " + abstract, set with the abstract
        self.mentions: list[Mention] = []
        self.relations: list[DocRelation] = []

    def set_abstract(self, abstract: str) -> None:
        self.abstract, self.text = abstract, f"{self.title} {abstract}"

    def add(self, cols: list[str], where: str, id_separator: str) -> None:
        if cols[0] != self.pmid:
            raise OdinError(f"{self.source}, {where}: PMID {cols[0]} inside the document of PMID {self.pmid}")
        # Integer columns 2 and 3 mark a mention line, whatever its length: a mention that lost its ID column
        # should be reported as a bad mention, not misread as a relation.
        is_mention = len(cols) >= 3 and cols[1].strip().isdigit() and cols[2].strip().isdigit()
        if len(cols) in (6, 7):
            self.mentions.append(self._mention(cols, where, id_separator))
        elif len(cols) in (4, 5) and not is_mention:
            self.relations.append(self._relation(cols, where))
        else:
            raise OdinError(
                f"{self.source}, {where}: {len(cols)} tab-separated columns; expected 6 or 7 for a mention "
                "(PMID start end text type ids [individual mentions]) or 4 or 5 for a relation "
                "(PMID type id1 id2 [novel])"
            )

    def _mention(self, cols: list[str], where: str, id_separator: str) -> Mention:
        _, start, end, mention, etype, ids = cols[:6]
        components = tuple(cols[6].split("|")) if len(cols) == 7 and cols[6] else ()
        try:
            start_i, end_i = int(start), int(end)
        except ValueError:
            raise OdinError(f"{self.source}, {where}: offsets {start!r} {end!r} are not integers") from None
        text = self.text
        if not 0 <= start_i <= end_i <= len(text):
            raise OdinError(
                f"{self.source}, {where}: offsets {start_i}-{end_i} lie outside the document text "
                f"({len(text)} characters, title + ' ' + abstract)"
            )
        if text[start_i:end_i] != mention:
            raise OdinError(
                f"{self.source}, {where}: mention {mention!r} does not match its span {start_i}-{end_i}, which holds "
                f"{text[start_i:end_i]!r} (offsets count into title + ' ' + abstract)"
            )
        if not etype:
            raise OdinError(f"{self.source}, {where}: empty entity type")
        # A 7-column composite mention always joins its IDs with `|`, whatever the corpus' usual separator.
        sep = "|" if components else id_separator
        id_list = tuple(i.strip() for i in ids.split(sep) if i.strip())
        return Mention(start_i, end_i, mention, etype, id_list, components, where)

    def _relation(self, cols: list[str], where: str) -> DocRelation:
        rtype, id1, id2 = cols[1], cols[2].strip(), cols[3].strip()
        if not (rtype and id1 and id2):
            raise OdinError(f"{self.source}, {where}: relation line with an empty type or ID")
        novel = None
        if len(cols) == 5:
            if cols[4] not in ("Novel", "No"):
                raise OdinError(f"{self.source}, {where}: novelty column is {cols[4]!r}; expected 'Novel' or 'No'")
            novel = cols[4] == "Novel"
        return DocRelation(rtype, id1, id2, novel, where)

    def finish(self) -> Document:
        if self.abstract is None:
            raise OdinError(f"{self.source}, {self.where}: document {self.pmid} has a title line but no abstract line")
        mentions = sorted(self.mentions, key=lambda m: (m.start, m.end))
        return Document(self.pmid, self.text, mentions, self.relations, self.source, self.where)
