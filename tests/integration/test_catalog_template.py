"""A catalog model whose GGUF carries no chat template gets the one the catalog
names (DESIGN.md: "chat template from the GGUF metadata, or the catalog when the
file has none"); a path or a template in the file keeps the usual order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from assistant import models
from assistant.config import Settings
from assistant.llm.templates import ChatMLFormat, PlainFormat
from assistant.models.download import sha256_file
from assistant.session import make_provider


@pytest.fixture
def catalog_gemma(parley_home: Path, gguf_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The embedded GGUF (no template of its own), listed as a chatml model."""
    catalog = parley_home / "test-catalog.toml"
    catalog.write_text(
        '[[model]]\nid = "gemma-as-chatml"\nkind = "llm"\nlanguage = "multi"\n'
        f'url = "https://example.invalid/g.gguf"\nsha256 = "{sha256_file(gguf_path)}"\n'
        f'size = {gguf_path.stat().st_size}\nlicense = "test"\n'
        'description = "a test entry"\nchat_template = "chatml"\n'
    )
    monkeypatch.setenv("PARLEY_CATALOG", str(catalog))
    info = models.import_model(gguf_path)  # the same bytes: installed as that entry
    assert info.id == "gemma-as-chatml"
    return info.id


def test_the_catalog_names_the_template_a_gguf_lacks(catalog_gemma: str, gguf_path: Path) -> None:
    by_id = make_provider(replace(Settings(), llm_model=catalog_gemma, n_ctx=512))
    by_id.start()
    engine = by_id.get(timeout=120)
    assert engine is not None and isinstance(engine.format, ChatMLFormat)
    assert "catalog" in engine.format_reason
    by_path = make_provider(replace(Settings(), llm_model=str(gguf_path), n_ctx=512))
    by_path.start()
    engine = by_path.get(timeout=120)
    assert engine is not None and isinstance(engine.format, PlainFormat)  # no catalog entry
