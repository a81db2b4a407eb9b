"""A follow-up written out in full for a small model.

"And Germany?" after "what is the capital of France" is clear to a person; the
270M base model answers it "Germany." even with the earlier exchange in its
prompt. The words it needs are in the earlier question, so they are put back:
the model is asked "What is the capital of Germany?" (the transcript keeps
what the user said). Three kinds of reference, each resolved only when the
earlier words show plainly where the new ones go:

- an ellipsis ("and Germany?", "what about of Egypt?", "and the smallest?"):
  its words replace their counterpart in the question before: the phrase after
  the same preposition, the phrase after that question's last preposition, or
  its superlative;
- a pronoun for a person ("what else did he write?", "where was she born?"):
  the name the previous reply gave;
- a kind of named thing pointed at ("which country is that city in?"): the
  name said last, in the previous reply or the user's words before.

Anything else is left as it is: a wrong rewrite would answer a question the
user did not ask.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.llm.templates import Message

_OPENER = re.compile(
    r"^(?:(?:and|but|so|ok|okay|then)\s+)*(?:what about|how about|what of|and)?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_PREPOSITIONS = ("of", "in", "for", "from", "on", "at", "about", "by", "to", "with")
_ARTICLES = ("the", "a", "an")
_QUESTION = re.compile(
    r"^(?:what|what's|who|who's|whom|whose|which|where|when|why|how|is|are|was|were|"
    r"do|does|did|can|could)\b"
)
_MAX_REST = 4
"""Words an ellipsis may have: more is a question of its own."""
_VERBISH = re.compile(
    r"\b(?:is|are|was|were|do|does|did|can|could|will|would|should|have|has|had|tell|say|"
    r"give|make|set|open|write|read)\b"
)
_NOT_A_THING_TEXT = """
    i you he she it we they me him her us them my your his its our their this that these
    those one ones what who whom whose which where when why how then now again more too
    also really ok okay please yes no not so well today tonight tomorrow yesterday later
    after before next last first other another else instead there here all some any
"""
_NOT_A_THING = frozenset(_NOT_A_THING_TEXT.split())
"""Words that stand for no thing an ellipsis could name: "and then?", "and
you?", "and tomorrow?" ask something else than the question before with
another object ("What is the weather like in then?" was the rewrite)."""
_PERSON_PRONOUNS = re.compile(r"\b(?:he|she|him|his|her)\b")
_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:(?:da|de|di|van|von|del|la|le)\s+)?[A-Z][\w'’-]*)*")
_NOT_NAMES_TEXT = (
    "i it its it's the a an he she they we you this that these those there here yes no "
    "my your his her our their what who which when where why how"
)
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())


def _words(text: str) -> list[str]:
    return text.strip().rstrip("?.!").split()


def _superlative(word: str) -> bool:
    w = word.lower()
    return w in ("best", "worst", "most", "least") or (len(w) > 4 and w.endswith("est"))


def resolve_ellipsis(question: str, follow_up: str) -> str:
    """`follow_up` as the full question it shortens, from `question` (the
    question before it); "" when it is no ellipsis or the place of its words
    in `question` is not plain."""
    if not _QUESTION.match(question.strip().lower()):
        return ""
    m = _OPENER.match(follow_up.strip().rstrip("?.!").strip())
    rest = _words(m["rest"]) if m else []
    opened = m is not None and len(rest) < len(_words(follow_up))
    if not rest or len(rest) > _MAX_REST or _VERBISH.search(" ".join(rest).lower()):
        return ""
    if not opened and not (rest[0][:1].isupper() or rest[0].lower() in _PREPOSITIONS):
        return ""  # a bare word ("really?", "cool"): only a name ("Germany?") or "in Paris?"
    if any(w.lower() in _NOT_A_THING for w in rest):
        return ""
    q = _words(question)
    low = [w.lower() for w in q]
    first = rest[0].lower()
    if first in _PREPOSITIONS:
        if first not in low[1:]:
            return ""
        cut = len(low) - 1 - low[::-1].index(first)  # "capital of Spain" + "of Egypt"
        return " ".join([*q[:cut], *rest]) + "?"
    head = rest[1:] if first in _ARTICLES and len(rest) > 1 else rest
    if _superlative(head[0]):
        at = next((i for i, w in enumerate(q) if _superlative(w)), -1)
        if at < 0:
            return ""
        # "the largest planet" + "the smallest" / "the smallest moon"
        swapped = [*q[:at], *head, *q[at + len(head) :]]
        return " ".join(swapped) + "?"
    cut = max((i for i, w in enumerate(low[1:], 1) if w in _PREPOSITIONS), default=-1)
    if cut < 0 or cut == len(q) - 1:
        return ""
    return " ".join([*q[: cut + 1], *rest]) + "?"  # "capital of France" + "Germany"


def named_person(reply: str) -> str:
    """The first name the reply gives ("Leonardo da Vinci painted it." ->
    "Leonardo da Vinci"), or "". One capitalised word opening a longer
    sentence is only its first word ("That's lovely."), unless it stands alone
    ("Shakespeare.")."""
    for m in _NAME.finditer(reply):
        words = m.group(0).split()
        while words and words[0].lower() in _NOT_NAMES:
            words.pop(0)
        opens = m.start() == 0 or reply[: m.start()].rstrip()[-1:] in ".!?"
        alone = not re.search(r"\w", reply[m.end() :].split(".")[0])
        if words and (len(words) > 1 or not opens or alone):
            return " ".join(words)
    return ""


def resolve_pronoun(follow_up: str, reply: str) -> str:
    """`follow_up` with its one person pronoun replaced by the name `reply`
    gave ("what else did he write?" after "Shakespeare." -> "what else did
    Shakespeare write?"); "" when there is not exactly one such pronoun or
    no name."""
    low = follow_up.lower()
    found = list(_PERSON_PRONOUNS.finditer(low))
    name = named_person(reply)
    if len(found) != 1 or not name:
        return ""
    m = found[0]
    after = _words(follow_up[m.end() :])
    # "his" and "her" before a noun own it ("her husband"); "her" at the end
    # or before a preposition is the object ("tell me about her").
    owns = m.group(0) == "his" or (
        m.group(0) == "her" and bool(after) and after[0].lower() not in _PREPOSITIONS
    )
    word = f"{name}'s" if owns else name
    return follow_up[: m.start()] + word + follow_up[m.end() :]


_KINDS = (
    "city|town|village|country|place|island|river|lake|mountain|planet|person|man|woman|"
    "author|writer|painter|artist|singer|band|book|novel|play|film|movie|song|album|painting|"
    "team|company|language"
)
_DEMONSTRATIVE = re.compile(rf"\b(?:that|this)\s+(?:{_KINDS})\b", re.IGNORECASE)


def resolve_demonstrative(follow_up: str, earlier: Sequence[str]) -> str:
    """`follow_up` with "that city", "this book" ... replaced by the name said
    last before it (`earlier`, newest first); "" when there is none."""
    found = list(_DEMONSTRATIVE.finditer(follow_up))
    if len(found) != 1:
        return ""
    name = next((n for n in map(named_person, earlier) if n), "")
    if not name:
        return ""
    m = found[0]
    return follow_up[: m.start()] + name + follow_up[m.end() :]


def written_out(messages: Sequence[Message]) -> list[Message]:
    """`messages` (user/assistant, oldest first) with each user follow-up
    that shortens the exchange before it written out in full, as the model
    should read it."""
    out = list(messages)
    question, reply = "", ""
    for i, m in enumerate(out):
        if m.role == "assistant":
            reply = m.content
            continue
        if m.role != "user":
            continue
        full = ""
        if question:
            full = resolve_ellipsis(question, m.content)
            if not full and reply:
                full = resolve_pronoun(m.content, reply)
            if not full:
                full = resolve_demonstrative(m.content, [reply, question])
        if full:
            out[i] = Message("user", full, m.origin)
        question, reply = out[i].content, ""
    return out
