"""`parley chat` never says it is listening: the user types, nothing hears."""

from __future__ import annotations

import io

import pytest

from assistant.commands.chat import Printer, _repl


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_chat_greeting_does_not_claim_to_listen(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(""))  # Ctrl-D at once
    assert _repl(object(), Printer(False)) == 0
    greeting = capsys.readouterr().err
    assert "Type a message" in greeting and "listening" not in greeting.lower()
