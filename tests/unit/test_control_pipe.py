"""The Windows control pipe: its security descriptor and framing everywhere,
the pipe itself where it exists (Windows)."""

from __future__ import annotations

import sys
import uuid

import pytest

from assistant import control, control_pipe


def test_the_pipe_admits_the_user_alone() -> None:
    sddl = control_pipe.user_only_sddl("S-1-5-21-1004336348-1177238915-682003330-1001")
    # A protected DACL (P: nothing inherited) with one allow entry, for that SID.
    assert sddl == "D:P(A;;GA;;;S-1-5-21-1004336348-1177238915-682003330-1001)"
    assert "WD" not in sddl and "BA" not in sddl  # not Everyone, not Administrators


@pytest.mark.parametrize("bad", ["", "WD", "S-1-1-0)(A;;GA;;;WD", "BA"])
def test_anything_but_a_sid_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        control_pipe.user_only_sddl(bad)


def test_a_line_is_split_off_once_whole() -> None:
    assert control_pipe.split_line(b'{"cmd": "ping"}\n', 4096) == (b'{"cmd": "ping"}', False)
    assert control_pipe.split_line(b'{"cmd": "pi', 4096) == (None, False)
    assert control_pipe.split_line(b"x" * 4096, 4096) == (None, True)
    assert control_pipe.split_line(b"x" * 5000 + b"\n", 4096) == (None, True)


def test_the_pipe_answer_is_json_even_for_an_overlong_message() -> None:
    server = control.ControlServer(lambda cmd: f"did {cmd}", address=r"\\.\pipe\unused")
    assert server._answer_pipe(b'{"cmd": "toggle"}') == b'{"ok": true, "answer": "did toggle"}\n'
    assert b'"ok": false' in server._answer_pipe(None)
    pickled = server._answer_pipe(b"\x80\x03cos\nsystem\n")  # a pickle: refused, not run
    assert pickled.startswith(b'{"ok": false')


@pytest.mark.skipif(sys.platform != "win32", reason="needs Windows (named pipes)")
def test_a_real_pipe_answers_its_user() -> None:
    address = rf"\\.\pipe\parley-test-{uuid.uuid4().hex}"
    server = control.ControlServer(lambda cmd: f"did {cmd}", address=address)
    server.start()
    try:
        assert control.request("ping", address).text == "pong"
        assert control.send_command("toggle", address) == "did toggle"
        with pytest.raises(control.AlreadyRunning):
            control.ControlServer(lambda cmd: cmd, address=address).start()
    finally:
        server.close()
    with pytest.raises(control.NotRunning):
        control.request("ping", address, timeout=0.5)
