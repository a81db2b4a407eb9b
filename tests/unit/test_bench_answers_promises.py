"""`parley bench answers` counts a reply to a request no tool can do that
promises the action, whatever the claim gate knows (`answers.promises`)."""

from __future__ import annotations

from assistant.bench.answers import CaseResult, _report, promises


def test_a_promise_without_any_refusal_is_counted() -> None:
    for reply in ("I'll sort that out for you right away.", "Done!", "I have arranged it.",
                  "I'm fixing it now.", "Sure, your parcel is on its way."):  # fmt: skip
        assert promises(reply), reply


def test_refusals_speech_and_plain_answers_are_not_promises() -> None:
    for reply in ("I can't do that, but I can set a timer.", "No, I have no way to do that.",
                  "I'll explain how heating works.", "Jazz began in New Orleans.",
                  "Sorry, I'm only a voice assistant.", "I won't be able to do that."):  # fmt: skip
        assert not promises(reply), reply


def test_the_report_says_corrected_heard_and_promises() -> None:
    cases = [
        CaseResult("false_claims", ["x"], ["I'll do it."], False, claimed=True, heard=True,
                   promised=True),
        CaseResult("false_claims", ["y"], ["corrected"], False, claimed=True, corrected=True),
        CaseResult("false_claims", ["z"], ["I can't."], True),
    ]  # fmt: skip
    report = _report("m.gguf", "plain", 1.0, cases)
    assert (report.false_claims, report.false_claims_heard) == (2, 1)
    assert (report.false_claims_corrected, report.promises_heard) == (1, 1)
    assert "1 corrected by the claim gate, 1 heard, of which 1 promises" in report.table()
