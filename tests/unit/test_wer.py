from __future__ import annotations

import pytest

from assistant.speech.wer import corpus_wer, edit_distance, normalize, wer


def test_identical_is_zero() -> None:
    assert wer("what time is it", "what time is it") == 0.0


def test_case_and_punctuation_do_not_count() -> None:
    assert wer("What time is it?", "what, time is IT") == 0.0


def test_apostrophes_are_kept_inside_words() -> None:
    assert normalize("Don't stop!") == ["don't", "stop"]
    assert wer("don't stop", "dont stop") == pytest.approx(0.5)


def test_substitution_deletion_insertion() -> None:
    ref = "the cat sat on the mat"
    assert wer(ref, "the cat sit on the mat") == pytest.approx(1 / 6)
    assert wer(ref, "the cat on the mat") == pytest.approx(1 / 6)
    assert wer(ref, "the cat sat on on the mat") == pytest.approx(1 / 6)


def test_can_exceed_one_with_insertions() -> None:
    assert wer("yes", "no no no") == pytest.approx(3.0)


def test_empty_reference() -> None:
    assert wer("", "") == 0.0
    assert wer("", "something") == 1.0
    assert wer("hello there", "") == 1.0


def test_edit_distance_is_minimal_alignment() -> None:
    # A shift by one word costs one deletion plus one insertion, not four substitutions.
    assert edit_distance(list("abcd"), list("bcde")) == 2


def test_non_latin_words() -> None:
    assert normalize("안녕하세요, 여러분!") == ["안녕하세요", "여러분"]
    assert wer("안녕하세요 여러분", "안녕하세요") == pytest.approx(0.5)


def test_corpus_wer_pools_words() -> None:
    total = corpus_wer([("a b c d", "a b c d"), ("e f", "e x")])
    assert (total.errors, total.words) == (1, 6)
    assert total.wer == pytest.approx(1 / 6)
    assert corpus_wer([]).wer == 0.0
