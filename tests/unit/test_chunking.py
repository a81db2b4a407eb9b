"""ClauseChunker and speakable(): table-driven, and invariant to how the stream is split."""

from __future__ import annotations

import random

import pytest

from assistant.speech.chunking import ClauseChunker, speakable


def chunk_all(text: str, chunker: ClauseChunker | None = None) -> list[str]:
    ch = chunker or ClauseChunker()
    return ch.feed(text) + ch.flush()


def chunk_split(text: str, rng: random.Random, max_piece: int) -> list[str]:
    ch = ClauseChunker()
    out: list[str] = []
    i = 0
    while i < len(text):
        k = rng.randint(1, max_piece)
        out += ch.feed(text[i : i + k])
        i += k
    return out + ch.flush()


CASES = [
    pytest.param(
        "Sure, here it is. The capital of France is Paris, which is also its largest city"
        " by far, and it sits on the Seine.",
        [
            "Sure, here it is.",
            "The capital of France is Paris, which is also its largest city by far,",
            "and it sits on the Seine.",
        ],
        id="sentences-and-long-clause",
    ),
    pytest.param(
        "It costs 3.5 dollars, or 1,000 cents. Dr. Smith said so at 3:30 today.",
        ["It costs 3.5 dollars,", "or 1,000 cents.", "Dr. Smith said so at 3:30 today."],
        id="first-clause-cut-early-numbers-title-time",
    ),
    pytest.param(
        "Mr. and Mrs. Jones met Prof. Lee. They talked.",
        ["Mr. and Mrs. Jones met Prof. Lee.", "They talked."],
        id="titles",
    ),
    pytest.param(
        "Okay. Bring tools, e.g. hammers and saws, etc. and glue. Then i.e. nothing else.",
        ["Okay.", "Bring tools, e.g. hammers and saws, etc. and glue.", "Then i.e. nothing else."],
        id="eg-ie-etc-lowercase",
    ),
    pytest.param(
        "Bring hammers, saws, etc. Then start.",
        ["Bring hammers, saws, etc.", "Then start."],
        id="etc-before-capital-ends-sentence",
    ),
    pytest.param(
        "The U.S. economy grew. I live in the U.S. The weather is nice.",
        ["The U.S. economy grew.", "I live in the U.S.", "The weather is nice."],
        id="dotted-acronym",
    ),
    pytest.param(
        "Visit example.com/path?q=1 for more. Or https://example.org/a.html today.",
        ["Visit example.com/path?q=1 for more.", "Or https://example.org/a.html today."],
        id="urls",
    ),
    pytest.param(
        "Well... I think so. Hmm... let me think. Wait… Okay.",
        ["Well...", "I think so.", "Hmm... let me think.", "Wait…", "Okay."],
        id="ellipses",
    ),
    pytest.param(
        'J. K. Rowling wrote it. Neither am I. Really?! Yes! "Stop." He left.',
        ["J. K. Rowling wrote it.", "Neither am I.", "Really?!", "Yes!", '"Stop."', "He left."],
        id="initials-pronoun-bang-quotes",
    ),
    pytest.param(
        "Here are the steps:\n1. Open the app\n2. Click **Save.**\n\n- item one\n- item two",
        [
            "Here are the steps:",
            "1. Open the app",
            "2. Click **Save.**",
            "- item one",
            "- item two",
        ],
        id="markdown-lines-and-numbered-list",
    ),
    pytest.param(
        "Mr. Jones arrived late — as usual — and then the whole family sat down to eat.",
        ["Mr. Jones arrived late —", "as usual — and then the whole family sat down to eat."],
        id="em-dash",
    ),
    pytest.param(
        "Pages 1–5 are a well-known read - said the critic loudly - and pages 6–9 are not.",
        ["Pages 1–5 are a well-known read -", "said the critic loudly - and pages 6–9 are not."],
        id="ranges-hyphens-spaced-dash",
    ),
    pytest.param(
        "Ok, so: one; two. It was a very long day for all of us; we slept well.",
        ["Ok, so: one; two.", "It was a very long day for all of us;", "we slept well."],
        id="short-clauses-not-cut-after-first",
    ),
    pytest.param("The answer is 42", ["The answer is 42"], id="no-terminator-flushes"),
    pytest.param("**  \n  ", [], id="nothing-speakable"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_clauses(text: str, expected: list[str]) -> None:
    assert chunk_all(text) == expected


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_into_random_deltas_gives_same_clauses(text: str, expected: list[str]) -> None:
    rng = random.Random(1234)
    for max_piece in (1, 2, 3, 5, 8):
        for _ in range(10):
            assert chunk_split(text, rng, max_piece) == expected


def test_word_limit_forces_cut_at_word_boundary() -> None:
    words = [f"w{i}" for i in range(60)]
    clauses = chunk_all(" ".join(words) + ".", ClauseChunker(max_words=25))
    assert clauses == [" ".join(words[:25]), " ".join(words[25:50]), " ".join(words[50:]) + "."]


def test_first_clause_threshold_is_separate() -> None:
    text = "One two three, four five six, seven eight nine, ten eleven twelve."
    eager = ClauseChunker(first_min_words=3, min_words=6)
    assert chunk_all(text, eager) == [
        "One two three,",
        "four five six, seven eight nine,",
        "ten eleven twelve.",
    ]
    patient = ClauseChunker(first_min_words=10, min_words=10)
    assert chunk_all(text, patient) == [text]


@pytest.mark.parametrize(
    ("first", "second", "clause"),
    [
        ("It costs 3.", "5 dollars. Next", "It costs 3.5 dollars."),
        ("We paid 1,", "000 dollars in total, sadly. Next", "We paid 1,000 dollars in total,"),
        ("Meet Dr.", " Who now. Next", "Meet Dr. Who now."),
        ("We sell tools etc. ", "and more. Next", "We sell tools etc. and more."),
    ],
)
def test_ambiguous_end_of_delta_is_held(first: str, second: str, clause: str) -> None:
    ch = ClauseChunker()
    assert ch.feed(first) == []
    assert ch.feed(second)[0] == clause


def test_sentence_end_released_by_next_word_or_flush() -> None:
    ch = ClauseChunker()
    assert ch.feed("Sure thing.") == []
    assert ch.feed(" The") == ["Sure thing."]
    assert ch.flush() == ["The"]
    assert ch.feed("Done!") == []  # "!" could still be followed by "?" or a quote
    assert ch.feed(" ") == ["Done!"]
    assert ch.flush() == []


def test_flush_resets_first_clause_state() -> None:
    ch = ClauseChunker(first_min_words=2, min_words=10)
    assert chunk_all("Hello there, my friend.", ch) == ["Hello there,", "my friend."]
    assert chunk_all("Hello there, my friend.", ch) == ["Hello there,", "my friend."]


def test_bad_settings_rejected() -> None:
    with pytest.raises(ValueError):
        ClauseChunker(min_words=30, max_words=25)


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("**Bold** and *italic* and ***both***", "Bold and italic and both"),
        ("- item one", "item one"),
        ("* item two", "item two"),
        ("## Heading", "Heading"),
        ("Run `ls -l` now", "Run ls -l now"),
        ("```python\nprint(1)\n```", "print(1)"),
        ("See [the docs](https://example.com/x) here", "See the docs here"),
        ("> quoted line", "quoted line"),
        ("a | b | c", "a b c"),
        ("above\n---\nbelow", "above below"),
        ("snake_case stays, as do 3.5 and 1,000.", "snake_case stays, as do 3.5 and 1,000."),
        ("__strong__ text", "strong text"),
        ("#1 choice - really", "#1 choice - really"),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_first_clause_can_be_forced_out_early() -> None:
    text = "The tallest mountain on Earth is Mount Everest in the Himalayas, at 8849 metres."
    early = ClauseChunker(first_max_words=5)
    out = []
    for piece in text.split(" "):
        out += early.feed(piece + " ")
    out += early.flush()
    assert out[0] == "The tallest mountain on Earth"
    assert " ".join(out) == text
    # Only the first clause: the rest keeps its natural length (no cut at the
    # comma: 6 words are under min_words).
    assert out[1:] == ["is Mount Everest in the Himalayas, at 8849 metres."]
    # Without the option the first clause waits for punctuation.
    plain = ClauseChunker()
    assert plain.feed(text[:40]) == []


def test_a_line_break_after_a_full_stop_ends_the_sentence_at_once() -> None:
    # A short answer followed by the start of the next turn's header: the stop is
    # decided by the line break, not by a word that will never come.
    c = ClauseChunker(first_min_words=3, first_max_words=3)
    assert c.feed("Rome") == [] and c.feed(".") == []
    assert c.feed("\n") == ["Rome."]
    c = ClauseChunker()
    assert c.feed("It is Dr.\n") == ["It is Dr."]  # no name follows a line break
