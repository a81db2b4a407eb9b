"""The copy guard's logic (llm/copy_guard.py): which words a reply may not go
on with, and which tokens stand for them. The real engine's use of it is in
tests/integration/test_copy_guard_llm.py."""

from __future__ import annotations

from assistant.llm.copy_guard import EXAMPLE_RUN, SYSTEM_RUN, CopyGuard, TokenBans

EXAMPLES = ("Marie Curie discovered polonium in 1898.", "I can't reach the garden hose.")
SYSTEM = "Speak in short plain sentences for the listener."


def test_a_run_of_an_example_bans_the_word_that_would_carry_it_on() -> None:
    g = CopyGuard(EXAMPLES, [SYSTEM])
    assert g.banned("Well, Marie Curie discovered") == {" polonium"}
    assert g.banned("Sorry. I can't reach") == {" the"}
    # One word short of a run: free.
    assert g.banned("Curie discovered") == set()


def test_example_and_system_runs_have_their_own_lengths() -> None:
    g = CopyGuard(EXAMPLES, [SYSTEM])
    assert EXAMPLE_RUN < SYSTEM_RUN
    assert g.banned("in short plain") == set()  # 3 words of the system text
    assert g.banned("in short plain sentences") == {" for"}


def test_a_name_in_code_is_never_written() -> None:
    g = CopyGuard(EXAMPLES, ["Tools: play_sound(name:str): plays a sound."])
    assert g.banned("Sure, use play") == {" sound"}  # "play" is free, its next part not
    assert g.banned("Sure, use play-") == {" sound"}  # however the parts are joined
    assert g.banned("Sure, use play_sou") == {"nd"}
    assert g.banned("Let us play", "what does play_sound do") == set()


def test_case_and_curly_apostrophes_do_not_hide_a_copy() -> None:
    g = CopyGuard(EXAMPLES)
    assert g.banned("i CAN’T reach") == {" the"}


def test_a_run_the_user_said_stays_allowed() -> None:
    g = CopyGuard(EXAMPLES)
    said = "who discovered polonium, was it Marie Curie discovered polonium?"
    assert g.banned("Marie Curie discovered", said) == set()
    assert g.banned("Marie Curie discovered", "who found radium") == {" polonium"}


def test_a_word_written_in_pieces_is_banned_at_each_piece() -> None:
    g = CopyGuard([*EXAMPLES, "So then we can't stay."])
    # "can" may be the start of the example's "can't": its rest is banned.
    assert g.banned("Well so then we can") == {"'t"}
    assert g.banned("Marie Curie discovered pol") == {"onium"}
    # A word that cannot start the banned one bans nothing.
    assert g.banned("Marie Curie discovered rad") == set()


def test_a_reply_may_not_say_a_run_of_its_own_again() -> None:
    g = CopyGuard(EXAMPLES)
    story = "The fox ran into the woods. It was dark. The fox ran into"
    assert g.banned(story) == {" the"}
    # Four words again are allowed; the fifth would make the loop.
    assert g.banned("The fox ran into the woods. The fox ran") == set()
    assert g.banned("The fox ran into the woods. The fox ran into the wo") == {"ods"}


def test_no_examples_no_guard() -> None:
    assert not CopyGuard([], [])
    assert CopyGuard(EXAMPLES)


class _Vocab:
    """A tokenizer over a fixed vocabulary: a text is one token only when the
    vocabulary holds it whole."""

    def __init__(self, pieces: list[str]) -> None:
        self.ids = {p: i for i, p in enumerate(pieces)}

    def __call__(self, text: str) -> list[int]:
        return [self.ids[text]] if text in self.ids else [0, 0]


def test_token_bans_cover_the_cases_and_pieces_a_model_writes() -> None:
    vocab = _Vocab(
        ["<unk>", " polonium", " Polonium", "polonium", " pol", "pol", "on", "onium", "o", " the"]
    )
    bans = TokenBans(vocab)
    whole = bans.tokens(" polonium")
    # With its space, and without (after a mark: "element:polonium").
    assert {vocab.ids[" polonium"], vocab.ids[" Polonium"], vocab.ids["polonium"]} == whole
    assert vocab.ids[" pol"] not in whole  # " pol" is left to the next step
    rest = bans.tokens("onium")
    assert rest == {vocab.ids["o"], vocab.ids["on"], vocab.ids["onium"]}
    assert vocab.ids[" the"] not in whole | rest


def test_a_token_written_four_times_running_is_banned() -> None:
    import numpy as np

    from assistant.llm.engine import TOKEN_RUN, no_token_runs

    process = no_token_runs(n_prompt=3)
    scores = np.zeros(10, dtype=np.float32)
    ran = np.array([1, 2, 3, *([7] * TOKEN_RUN)])
    assert np.isneginf(process(ran, scores.copy())[7])
    # Fewer in a row, or a run inside the prompt, is free.
    assert not np.isneginf(process(np.array([1, 2, 3, 5, 7, 7, 7]), scores.copy())).any()
    assert not np.isneginf(process(np.array([7, 7, 7, 7, 7]), scores.copy())).any()
