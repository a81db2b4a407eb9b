"""Every event serialises to one flat JSON object with its type first."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

from assistant import events
from assistant.events import Event, EventType, Latency, ReplyDone, Source, State, StateChanged

ALL = [
    c
    for _, c in inspect.getmembers(events, inspect.isclass)
    if issubclass(c, Event) and c is not Event
]


def test_every_event_type_has_one_class() -> None:
    assert sorted(c.type for c in ALL) == sorted(EventType)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_round_trips_through_json(cls: type[Event]) -> None:
    samples = {str: "x", int: 3, float: 1.5, bool: True, dict: {}}
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            t = f.type if isinstance(f.type, type) else eval(f.type, vars(events))
            kwargs[f.name] = {State: State.IDLE, Source: Source.LLM}.get(t, samples.get(t, "x"))
    e = cls(**kwargs)
    data = json.loads(e.to_json())
    assert next(iter(data)) == "type" and data["type"] == cls.type.value
    assert set(data) == {"type", *(f.name for f in dataclasses.fields(cls))}
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(e, dataclasses.fields(cls)[0].name, None)


def test_examples() -> None:
    assert StateChanged(State.LISTENING).to_dict() == {"type": "state", "state": "listening"}
    d = ReplyDone("Hi", Source.RULE, False, 7, "greeting").to_dict()
    assert d == {
        "type": "reply_done",
        "text": "Hi",
        "source": "rule",
        "interrupted": False,
        "turn_id": 7,
        "intent": "greeting",
    }
    lat = Latency(1, {"first_token": 12.5}).to_dict()
    assert lat["stages_ms"] == {"first_token": 12.5}
