"""The stop-sequence hold-back of the LLM stream (`release`), fed token by token."""

from assistant.llm.engine import _find_stop, release

STOPS = ("\n\nUser:", "\nUser:", "<end_of_turn>")


def stream(pieces: list[str], stops: tuple[str, ...] = STOPS) -> tuple[list[str], str]:
    """What the decoder loop yields, piece by piece, and the reply it amounts to."""
    pending, sent, out = "", 0, []
    for piece in pieces:
        pending += piece
        cut = _find_stop(pending, stops)
        if cut >= 0:
            out.append(pending[sent:cut])
            break
        text, pending, sent = release(pending, sent, stops)
        out.append(text)
    else:
        out.append(pending[sent:])
    return out, "".join(out)


def test_sentence_end_is_released_before_the_stop_is_decided():
    out, reply = stream(["Hello", " there", ".", "\n", "\n", "User", ":"])
    # The newline after "." is out with the 4th piece, so a chunker sees the
    # sentence end then, not two tokens later.
    assert "".join(out[:4]) == "Hello there.\n"
    assert reply.strip() == "Hello there."


def test_text_that_only_looks_like_a_stop_is_not_lost():
    out, reply = stream(["Use", " it", "\n", "Us", "ually", " not", "."])
    assert reply == "Use it\nUsually not."


def test_a_held_marker_is_never_yielded_when_it_turns_out_to_be_a_stop():
    out, reply = stream(["Fine", ".", "<end_", "of_turn>", "ignored"])
    assert reply == "Fine."
    assert all("<" not in piece for piece in out)


def test_whitespace_is_yielded_once():
    out, reply = stream(["A", "\n", "\n", "B"])
    assert reply == "A\n\nB"
