"""Which speech model the model manager reports in use, and what `use` writes:
the engine `choose_engine` picks (Moonshine for English by default), Moonshine
listed and verified as a built-in model. Real packages, nothing loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import models
from assistant.config import Settings, load_settings, update_settings
from assistant.inventory.catalog import KO_ID, MOONSHINE_ID, POCKETSPHINX_ID
from assistant.models.manager import models_in_use
from assistant.speech import moonshine


@pytest.fixture
def with_moonshine() -> None:
    why = moonshine.unavailable_reason()
    if why is not None:
        pytest.skip(why)


def stt_in_use() -> str | None:
    return models_in_use(load_settings().settings)[1]


def test_english_by_default_is_moonshine(with_moonshine: None) -> None:
    assert stt_in_use() == MOONSHINE_ID
    stt = {m.id: m for m in models.list_models(kind="stt")}
    assert stt[MOONSHINE_ID].builtin and stt[MOONSHINE_ID].installed
    assert stt[MOONSHINE_ID].in_use and not stt[POCKETSPHINX_ID].in_use
    assert stt[MOONSHINE_ID].path == moonshine.model_dir()


def test_without_moonshine_english_is_pocketsphinx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moonshine, "package_dir", lambda: None)  # as where no wheel exists
    assert stt_in_use() == POCKETSPHINX_ID
    info = models.get_model(MOONSHINE_ID)
    assert not info.installed and not info.in_use


def test_the_engine_setting_decides(with_moonshine: None) -> None:
    update_settings({"stt_engine": "pocketsphinx"})
    assert stt_in_use() == POCKETSPHINX_ID
    # stt_model = pocketsphinx, but the engine setting wins (as in choose_engine)
    both = Settings(stt_engine="moonshine", stt_model=POCKETSPHINX_ID)
    assert models_in_use(both)[1] == MOONSHINE_ID
    assert models_in_use(Settings(stt_model=POCKETSPHINX_ID))[1] == POCKETSPHINX_ID


def test_other_languages(parley_home: Path) -> None:
    assert models_in_use(Settings(language="de"))[1] is None  # no model for German
    from assistant.speech.stt import ko_package_model

    if ko_package_model() is not None:
        assert models_in_use(Settings(language="ko"))[1] == KO_ID


def test_use_moonshine_sets_the_engine_and_back(with_moonshine: None) -> None:
    update_settings({"stt_engine": "pocketsphinx", "language": "de"})
    assert models.use(MOONSHINE_ID) == {"stt_engine": "moonshine", "language": "en"}
    s = load_settings().settings
    assert (s.stt_engine, s.stt_model, s.language) == ("moonshine", "", "en")
    assert stt_in_use() == MOONSHINE_ID
    # Choosing a model again hands the choice back from the engine setting to it.
    assert models.use(POCKETSPHINX_ID) == {"stt_model": POCKETSPHINX_ID, "stt_engine": "auto"}
    assert stt_in_use() == POCKETSPHINX_ID


def test_verify_checks_moonshine_against_its_wheel(
    with_moonshine: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (result,) = models.verify(MOONSHINE_ID)
    assert result.ok and result.detail.startswith("sha256 matches"), result
    assert MOONSHINE_ID in [r.id for r in models.verify()]
    # A copy with one file changed (same size: only the hash tells) fails, named.
    real = moonshine.model_dir()
    assert real is not None
    copy = tmp_path / "tiny-en"
    copy.mkdir()
    for name in moonshine.MODEL_FILES:
        (copy / name).symlink_to(real / name)
    tokenizer = copy / "tokenizer.bin"
    tokenizer.unlink()
    shutil.copy(real / "tokenizer.bin", tokenizer)
    data = bytearray(tokenizer.read_bytes())
    data[:16] = bytes(16)
    tokenizer.write_bytes(bytes(data))
    monkeypatch.setattr(moonshine, "model_dir", lambda: copy)
    (result,) = models.verify(MOONSHINE_ID)
    assert not result.ok and str(tokenizer) in result.detail and "Reinstall" in result.detail
