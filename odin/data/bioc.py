"""BioC JSON documents (BioRED's main distribution), read into the same `Document` model as PubTator files.

BioC places each passage at a document-level `offset`; BioRED's title sits at 0 and its abstract at len(title) + 1,
so joining the passages at their offsets gives the PubTator text `title + " " + abstract` and the annotation
offsets need no shifting. Every annotation is checked against its span; a mismatch raises OdinError naming the file,
document and annotation.
"""

from __future__ import annotations

import json
from pathlib import Path

from odin.data.pubtator import DocRelation, Document, Mention
from odin.errors import OdinError


def read_bioc_json(path: str | Path, id_separator: str = ",") -> list[Document]:
    """Documents of a BioC JSON collection. `id_separator` joins several concept IDs in one `identifier` infon."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            collection = json.load(f)
    except FileNotFoundError as err:
        raise OdinError(f"BioC JSON file not found: {path}") from err
    except json.JSONDecodeError as err:
        raise OdinError(f"{path}, line {err.lineno}: not valid JSON ({err.msg})") from err
    if not isinstance(collection, dict) or not isinstance(collection.get("documents"), list):
        raise OdinError(f"{path}: not a BioC JSON collection (expected an object with a 'documents' list)")
    return [_document(doc, i, str(path), id_separator) for i, doc in enumerate(collection["documents"])]


def _document(doc: dict, index: int, source: str, id_separator: str) -> Document:
    pmid = str(doc.get("id", "")).strip()
    where = f"document {pmid or f'#{index}'}"
    try:
        passages = sorted(doc["passages"], key=lambda p: int(p["offset"]))
        text = ""
        for p in passages:
            offset = int(p["offset"])
            if offset < len(text):
                raise OdinError(f"{source}, {where}: passage at offset {offset} overlaps the previous passage")
            text += " " * (offset - len(text)) + p.get("text", "")
        mentions = [_mention(a, text, source, where, id_separator) for p in passages for a in p.get("annotations", [])]
        relations = [_relation(r, source, where) for r in doc.get("relations", [])]
    except (KeyError, TypeError, ValueError) as err:
        raise OdinError(f"{source}, {where}: malformed BioC document ({type(err).__name__}: {err})") from err
    if not pmid:
        raise OdinError(f"{source}, {where}: document without an id")
    mentions.sort(key=lambda m: (m.start, m.end))
    return Document(pmid, text, mentions, relations, source, where)


def _mention(ann: dict, text: str, source: str, doc_where: str, id_separator: str) -> Mention:
    where = f"{doc_where}, annotation {ann.get('id', '?')}"
    locations = ann["locations"]
    if len(locations) != 1:
        # Discontinuous mentions have no single span to check or to train on; BioRED has none.
        raise OdinError(f"{source}, {where}: {len(locations)} locations; only single-span annotations are supported")
    start = int(locations[0]["offset"])
    end = start + int(locations[0]["length"])
    mention = ann["text"]
    if not 0 <= start <= end <= len(text) or text[start:end] != mention:
        raise OdinError(
            f"{source}, {where}: annotation text {mention!r} does not match its span {start}-{end}, which holds "
            f"{text[start:end]!r}"
        )
    infons = ann.get("infons") or {}
    etype = infons.get("type")
    if not etype:
        raise OdinError(f"{source}, {where}: annotation without a type infon")
    ids = tuple(i.strip() for i in str(infons.get("identifier") or "").split(id_separator) if i.strip())
    return Mention(start, end, mention, etype, ids, (), where)


def _relation(rel: dict, source: str, doc_where: str) -> DocRelation:
    where = f"{doc_where}, relation {rel.get('id', '?')}"
    infons = rel.get("infons") or {}
    rtype = infons.get("type")
    id1, id2 = str(infons.get("entity1") or "").strip(), str(infons.get("entity2") or "").strip()
    if not (rtype and id1 and id2):
        raise OdinError(f"{source}, {where}: relation needs 'type', 'entity1' and 'entity2' infons")
    novel = infons.get("novel")
    if novel not in (None, "Novel", "No"):
        raise OdinError(f"{source}, {where}: novel infon is {novel!r}; expected 'Novel' or 'No'")
    return DocRelation(rtype, id1, id2, None if novel is None else novel == "Novel", where)
