"""The source registry: a module that declares `SOURCE` is a source, and the config schema, the prepare checks and
the dataset card follow it, so a new corpus is one module and one YAML."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing

import pytest
from hydra.errors import ConfigCompositionException

import odin.data.sources as sources_package
from conftest import compose_cfg
from odin.data import prepare
from odin.data.sources import Source, discover, get_source, registry
from odin.errors import OdinError
from odin.schema import CONF_DIR, SourcesConfig


def test_every_module_that_declares_a_source_is_registered():
    declared = {m.name for m in pkgutil.iter_modules(sources_package.__path__)
                if hasattr(importlib.import_module(f"odin.data.sources.{m.name}"), "SOURCE")}
    assert set(registry()) == declared == {"ade", "bc5cdr", "biored", "files", "synthetic"}
    assert list(registry()) == sorted(declared)  # a fixed order: loading, and so ties in dedupe, never vary


def test_the_config_schema_is_built_from_the_registry():
    hints = typing.get_type_hints(SourcesConfig)
    assert [f.name for f in dataclasses.fields(SourcesConfig)] == list(registry())
    for name, source in registry().items():
        assert hints[name] == typing.Optional[source.config]
        assert getattr(SourcesConfig(), name) is None  # a source left unset is not used
        assert (CONF_DIR / "data" / f"{name}.yaml").is_file(), f"conf/data/{name}.yaml"


def test_real_corpora_declare_their_release_and_allow_modified():
    for name in ("ade", "bc5cdr", "biored"):
        source = get_source(name)
        assert source.release is not None and source.release.files
        assert all(len(f.sha256) == 64 and f.size > 0 and f.documents > 0 for f in source.release.files)
        assert source.config().allow_modified is False
    for name, source in registry().items():
        facts = source.card
        assert facts.pretty_name and facts.license and facts.terms and facts.content, name
        assert facts.mapping_for(source.config()), name
    with pytest.raises(OdinError, match="Unknown data source 'pubmed'; odin's sources are ade, bc5cdr"):
        get_source("pubmed")


@pytest.mark.parametrize("override,key", [
    ("data.sources.ade.wieght=2", "wieght"),
    ("data.sources.biored.file_format=xml", "file_format"),
    ("data.sources.bc5cdr.alow_modified=true", "alow_modified"),
])
def test_a_typo_under_a_source_fails_at_composition(override, key):
    with pytest.raises(ConfigCompositionException) as err:
        compose_cfg(["data=mix", override])
    assert key in str(err.value) or key in str(err.value.__cause__)


def test_sources_compose_to_their_own_config_class():
    cfg = compose_cfg(["data=mix", "data.sources.bc5cdr.allow_modified=true"])
    assert cfg.data.sources.bc5cdr.allow_modified is True and cfg.data.sources.ade.allow_modified is False
    assert str(cfg.data.sources.biored.file_format) == "bioc"
    assert cfg.data.sources.synthetic is None and cfg.data.sources.files is None


NEW_SOURCE = '''
from dataclasses import dataclass
from odin.data.example import SourceResult
from odin.data.sources import CardFacts, Source


@dataclass
class MyCorpusConfig:
    weight: float = 1.0
    cap: int | None = None


def load(cfg, raw_data_dir):
    return SourceResult([])


SOURCE = Source(NAME, MyCorpusConfig, load, CardFacts("My corpus", "mit", None, "MIT", "", "notes", "as is"))
'''


def test_discover_finds_a_new_source_module(tmp_path, monkeypatch):
    package = tmp_path / "more_sources"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mycorpus.py").write_text(NEW_SOURCE.replace("NAME", "'mycorpus'"))
    (package / "helpers.py").write_text("VOCAB = ['a']\n")  # no SOURCE: not a source
    monkeypatch.syspath_prepend(str(tmp_path))
    found = discover(importlib.import_module("more_sources"))
    assert list(found) == ["mycorpus"] and isinstance(found["mycorpus"], Source)
    assert found["mycorpus"].config.__name__ == "MyCorpusConfig"

    (package / "othername.py").write_text(NEW_SOURCE.replace("NAME", "'renamed'"))
    with pytest.raises(TypeError, match="declares the source 'renamed'; a source is named after its module"):
        discover(importlib.import_module("more_sources"))


def test_prepare_checks_loop_over_the_registry(tmp_path):
    no_source = compose_cfg(["data=ade", "data.sources.ade=null"], output_dir=tmp_path)
    with pytest.raises(OdinError, match=r"configures no source: set at least one of "
                                        r"data.sources.\{ade,bc5cdr,biored,files,synthetic\}"):
        prepare.check(no_source)
    missing = compose_cfg(["data=bc5cdr", f"data.sources.bc5cdr.path={tmp_path / 'nowhere'}"], output_dir=tmp_path)
    with pytest.raises(OdinError, match=r"data.sources.bc5cdr.path\) does not exist"):
        prepare.check(missing)
    bad_map = compose_cfg(["data=biored", "data.sources.biored.relation_map.Bind=binds"], output_dir=tmp_path)
    with pytest.raises(OdinError, match="relation_map.Bind='binds' is not an odin relation type"):
        prepare.check(bad_map)
    files = compose_cfg(["data=files"], output_dir=tmp_path)
    with pytest.raises(OdinError, match="data=files needs at least one Alpaca JSON/JSONL file"):
        prepare.check(files)
    ratio = compose_cfg(["data=ade", "data.synthetic_ratio=0.5"], output_dir=tmp_path)
    with pytest.raises(OdinError, match="data.sources.synthetic is not configured"):
        prepare.check(ratio)
    assert not any(tmp_path.iterdir())  # checks do no work
