"""Corpus files checked against their official release: a copy cut at a line end or between documents is an error
naming the file, what was expected and what was found; with allow_modified=true it loads, with a warning, and the
record of what was read (quoted by the dataset card) says the files differ."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from odin.data.release import Release, ReleaseCheck, ReleaseFile, digest
from odin.data.sources import ade, bc5cdr, biored
from odin.data.sources.ade import AdeSourceConfig
from odin.data.sources.bc5cdr import Bc5cdrSourceConfig
from odin.data.sources.biored import BioredSourceConfig
from odin.errors import OdinError

HF_EXPORT = "ade/hf_ade_corpus_v2"


def copy(raw: Path, corpus: str, tmp: Path, names) -> Path:
    folder = tmp / corpus
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(raw / corpus / name, folder / name)
    return folder


def cut_between_documents(path: Path, keep: int, blank: bytes) -> None:
    """Keep the first `keep` documents of a file whose documents end with a blank line (`blank` = two newlines)."""
    data = path.read_bytes()
    end = -len(blank)
    for _ in range(keep):
        end = data.index(blank, end + len(blank))
    path.write_bytes(data[: end + len(blank)])


def cut_inside_a_document(path: Path, newline: bytes) -> None:
    """Cut at the end of an annotation line past the middle of the file, inside a document (the next line is one
    of its annotations too): the last document keeps its text and loses some annotations."""
    data = path.read_bytes()
    pos = data.index(newline, len(data) // 2)
    while not (b"\t" in data[data.rindex(newline, 0, pos) + len(newline): pos]
               and b"\t" in data[pos + len(newline): data.index(newline, pos + len(newline))]):
        pos = data.index(newline, pos + len(newline))
    path.write_bytes(data[: pos + len(newline)])


def release_error(excinfo, path: Path, release: str, source: str) -> str:
    message = str(excinfo.value)
    assert message.startswith(f"{path} differs from the {release} release: expected ")
    assert "bytes with sha256" in message and ", found " in message
    assert f"data.sources.{source}.allow_modified=true" in message
    return message


def warned(caplog, path: Path) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and str(path) in r.getMessage()]


# --------------------------------------------------------------------------------------------------------- BC5CDR


@pytest.mark.corpus
def test_bc5cdr_release_files_are_recorded_as_checked(raw_data):
    result = bc5cdr.load(Bc5cdrSourceConfig(), str(raw_data))
    assert result.origin.matches_release is True
    assert [(f.name, f.documents, f.differs) for f in result.origin.files] == [
        (name, 500, None) for name in bc5cdr.FILES.values()]
    assert result.origin.files[0].sha256 == digest(raw_data / "bc5cdr" / bc5cdr.FILES["train"])[1]


@pytest.mark.corpus
def test_bc5cdr_cut_between_documents(raw_data, tmp_path, caplog):
    folder = copy(raw_data, "bc5cdr", tmp_path, bc5cdr.FILES.values())
    train = folder / bc5cdr.FILES["train"]
    cut_between_documents(train, 261, b"\n\n")  # the file: 261 of 500 training abstracts
    with pytest.raises(OdinError) as err:
        bc5cdr.load(Bc5cdrSourceConfig(path=str(folder)), None)
    message = release_error(err, train, "CDR.Corpus.v010516", "bc5cdr")
    assert f"expected 1,129,998 bytes with sha256 7afcec134e3d4871..., found {train.stat().st_size:,} bytes" in message

    with caplog.at_level(logging.WARNING):
        result = bc5cdr.load(Bc5cdrSourceConfig(path=str(folder), allow_modified=True), None)
    assert sum(e.split == "train" for e in result.examples) == 261
    assert result.origin.matches_release is False
    first = result.origin.files[0]
    assert first.documents == 261 and first.differs.endswith("; 261 of the release's 500 abstracts read")
    assert [f.differs for f in result.origin.files[1:]] == [None, None]
    assert any("261 of the release's 500 abstracts read" in m for m in warned(caplog, train))
    assert any("reading it anyway (data.sources.bc5cdr.allow_modified=true)" in m for m in warned(caplog, train))


@pytest.mark.corpus
def test_bc5cdr_cut_at_a_line_end(raw_data, tmp_path, caplog):
    folder = copy(raw_data, "bc5cdr", tmp_path, bc5cdr.FILES.values())
    test = folder / bc5cdr.FILES["test"]
    cut_inside_a_document(test, b"\n")
    with pytest.raises(OdinError) as err:
        bc5cdr.load(Bc5cdrSourceConfig(path=str(folder)), None)
    release_error(err, test, "CDR.Corpus.v010516", "bc5cdr")
    with caplog.at_level(logging.WARNING):
        result = bc5cdr.load(Bc5cdrSourceConfig(path=str(folder), allow_modified=True), None)
    kept = sum(e.split == "test" for e in result.examples)
    assert 200 < kept < 500
    assert result.origin.files[2].differs.endswith(f"; {kept} of the release's 500 abstracts read")
    assert warned(caplog, test)


# --------------------------------------------------------------------------------------------------------- BioRED


PUBTATOR = [f"{stem}.PubTator" for stem in biored.SPLITS.values()]
BIOC = [f"{stem}.BioC.JSON" for stem in biored.SPLITS.values()]


@pytest.mark.corpus
@pytest.mark.parametrize("where", ["document", "line"])
def test_biored_pubtator_cut(raw_data, tmp_path, caplog, where):
    folder = copy(raw_data, "biored", tmp_path, PUBTATOR)
    dev = folder / "Dev.PubTator"
    if where == "document":
        cut_between_documents(dev, 40, b"\r\n\r\n")  # BioRED's PubTator files have CRLF line ends
    else:
        cut_inside_a_document(dev, b"\r\n")
    cfg = BioredSourceConfig(path=str(folder), file_format="pubtator")
    with pytest.raises(OdinError) as err:
        biored.load(cfg, None)
    release_error(err, dev, "BioRED (BIORED.zip, NCBI)", "biored")

    cfg.allow_modified = True
    with caplog.at_level(logging.WARNING):
        result = biored.load(cfg, None)
    kept = sum(e.split == "val" for e in result.examples)
    assert kept == 40 if where == "document" else 40 < kept < 100
    assert result.origin.files[1].differs.endswith(f"; {kept} of the release's 100 abstracts read")
    assert warned(caplog, dev)


@pytest.mark.corpus
def test_biored_bioc_json_with_documents_removed(raw_data, tmp_path, caplog):
    folder = copy(raw_data, "biored", tmp_path, BIOC)
    train = folder / "Train.BioC.JSON"
    collection = json.loads(train.read_text())
    collection["documents"] = collection["documents"][:123]
    train.write_text(json.dumps(collection, indent=1))
    with pytest.raises(OdinError) as err:
        biored.load(BioredSourceConfig(path=str(folder)), None)
    release_error(err, train, "BioRED (BIORED.zip, NCBI)", "biored")
    with caplog.at_level(logging.WARNING):
        result = biored.load(BioredSourceConfig(path=str(folder), allow_modified=True), None)
    assert sum(e.split == "train" for e in result.examples) == 123
    assert result.origin.files[0].differs.endswith("; 123 of the release's 400 abstracts read")
    assert warned(caplog, train)


@pytest.mark.corpus
def test_biored_bioc_json_cut_at_a_line_end(raw_data, tmp_path):
    folder = copy(raw_data, "biored", tmp_path, BIOC)
    test = folder / "Test.BioC.JSON"
    data = test.read_bytes()
    test.write_bytes(data[: data.index(b"\n", len(data) // 2) + 1])
    with pytest.raises(OdinError) as err:
        biored.load(BioredSourceConfig(path=str(folder)), None)
    release_error(err, test, "BioRED (BIORED.zip, NCBI)", "biored")
    # Allowed, the cut JSON still cannot be read: the error names the file and where it ends.
    with pytest.raises(OdinError, match=rf"{test}, line \d+: not valid JSON"):
        biored.load(BioredSourceConfig(path=str(folder), allow_modified=True), None)


# ------------------------------------------------------------------------------------------------------------ ADE


def _rel_cut(path: Path, same_pmid: bool) -> None:
    """Cut DRUG-AE.rel / ADE-NEG.txt at a line end past the middle: between two lines of one PMID, or where the
    PMID changes (between documents)."""
    lines = path.read_text().split("\n")
    sep = "|" if path.suffix == ".rel" else " "
    i = len(lines) // 2
    while (lines[i].split(sep)[0] == lines[i + 1].split(sep)[0]) != same_pmid:
        i += 1
    path.write_text("\n".join(lines[: i + 1]) + "\n")


@pytest.mark.corpus
@pytest.mark.parametrize("name", [ade.REL_FILE, ade.NEG_FILE])
@pytest.mark.parametrize("where", ["document", "line"])
def test_ade_original_files_cut(raw_data, tmp_path, caplog, name, where):
    folder = copy(raw_data, "ade", tmp_path, [ade.REL_FILE, ade.NEG_FILE])
    _rel_cut(folder / name, same_pmid=where == "line")
    cfg = AdeSourceConfig(path=str(folder), negatives="all")
    with pytest.raises(OdinError) as err:
        ade.load(cfg, None)
    release_error(err, folder / name, "ADE Corpus V2", "ade")

    cfg.allow_modified = True
    with caplog.at_level(logging.WARNING):
        result = ade.load(cfg, None)
    record = {f.name: f for f in result.origin.files}
    assert record[name].differs.startswith("differs from the ADE Corpus V2 release")
    assert record[name].documents < ade.RELEASE.get(name).documents
    other = ade.NEG_FILE if name == ade.REL_FILE else ade.REL_FILE
    assert record[other].differs is None
    negatives = sum(not e.extraction for e in result.examples)
    assert negatives == (16688 if name == ade.REL_FILE else record[name].documents)
    assert warned(caplog, folder / name)


@pytest.mark.corpus
def test_ade_parquet_export_with_rows_removed(raw_data, tmp_path, caplog):
    config = "Ade_corpus_v2_drug_ade_relation"
    folder = copy(raw_data, HF_EXPORT, tmp_path, [f"{config}/train-00000-of-00001.parquet"])
    path = folder / config / "train-00000-of-00001.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 3000), path)  # keeps the `huggingface` schema metadata
    sentences = len(set(table.slice(0, 3000).column("text").to_pylist()))
    with pytest.raises(OdinError) as err:
        ade.load(AdeSourceConfig(path=str(folder)), None)
    release_error(err, path, "ADE Corpus V2", "ade")
    with caplog.at_level(logging.WARNING):
        result = ade.load(AdeSourceConfig(path=str(folder), allow_modified=True), None)
    assert len(result.examples) == sentences
    assert result.origin.files[0].differs.endswith(f"; {sentences:,} of the release's 4,271 sentences read")
    assert warned(caplog, path)


@pytest.mark.corpus
def test_ade_parquet_export_cut_short(raw_data, tmp_path):
    config = ade.HF_NEGATIVES_CONFIG
    names = [f"{c}/train-00000-of-00001.parquet" for c in ("Ade_corpus_v2_drug_ade_relation", config)]
    folder = copy(raw_data, HF_EXPORT, tmp_path, names)
    path = folder / names[1]
    path.write_bytes(path.read_bytes()[:500_000])
    cfg = AdeSourceConfig(path=str(folder), negatives="all")
    with pytest.raises(OdinError) as err:
        ade.load(cfg, None)
    release_error(err, path, "ADE Corpus V2", "ade")
    cfg.allow_modified = True
    with pytest.raises(OdinError, match=rf"{path}: not a readable Parquet export"):
        ade.load(cfg, None)


@pytest.mark.corpus
def test_ade_unknown_file_is_not_the_release(raw_data, tmp_path):
    renamed = tmp_path / "mine" / "export.parquet"
    renamed.parent.mkdir()
    shutil.copyfile(raw_data / HF_EXPORT / "Ade_corpus_v2_drug_ade_relation/train-00000-of-00001.parquet", renamed)
    with pytest.raises(OdinError, match=rf"{renamed} is not a file of the ADE Corpus V2 release \(its files: "
                                        r"DRUG-AE\.rel, ADE-NEG\.txt, .*allow_modified=true"):
        ade.load(AdeSourceConfig(path=str(renamed)), None)
    result = ade.load(AdeSourceConfig(path=str(renamed), allow_modified=True), None)
    assert len(result.examples) == 4271 and result.origin.matches_release is False


# ------------------------------------------------------------------------------------------------ the check itself


def test_a_count_off_on_the_release_file_is_a_reader_bug(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("one\n\ntwo\n")
    size, sha = digest(path)
    release = Release("Tiny 1.0", (ReleaseFile("corpus.txt", size, sha, 2, "notes"),))
    check = ReleaseCheck("tiny", release, allow_modified=True)
    check.file(path, "corpus.txt")
    check.documents(path, "corpus.txt", 2)
    assert check.record.matches_release is True
    # The bytes are the release's, so allow_modified does not excuse a reader that lost a document.
    with pytest.raises(RuntimeError, match=r"odin read 1 notes where it holds 2: a bug in odin's reader"):
        check.documents(path, "corpus.txt", 1)
