"""Resource paths (``Things(1)/Datastreams``, ``Observations('5-1767225600000000')``,
``Datastreams(3)/Thing/name/$value``, ``.../$ref``) read into steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.sta.errors import QueryError
from hub.store.sta_sql import SOURCES
from hub.store.sta_statement import Step

ENTITY_SETS = tuple(SOURCES)


@dataclass(frozen=True, slots=True)
class Resource:
    steps: tuple[Step, ...]
    single: bool  # the path addresses one entity (by key, or through a to-one link)
    prop: str | None = None  # a property of that entity
    value: bool = False  # .../$value
    ref: bool = False  # .../$ref

    @property
    def set_name(self) -> str:
        return self.steps[-1].set_name


def _key(text: str, set_name: str) -> Any:
    kind = SOURCES[set_name].key_kind
    if len(text) >= 2 and text[0] == text[-1] == "'":
        value = text[1:-1].replace("''", "'")
        if kind == "int":
            if value.isdigit():
                return int(value)
            raise QueryError("path", f"the id of {set_name} is an integer, not {text}")
        return value
    if text.isdigit():
        return int(text) if kind == "int" else text
    raise QueryError("path", f"not an id: {text!r} (an integer, or a string in single quotes)")


def _split(segment: str) -> tuple[str, str | None]:
    if segment.endswith(")") and "(" in segment:
        name, _, rest = segment.partition("(")
        return name, rest[:-1]
    return segment, None


def parse_path(path: str) -> Resource:
    """The steps of a path below the service root (without a leading slash)."""
    segments = [p for p in path.split("/") if p != ""]
    if not segments:
        raise QueryError("path", "empty resource path")
    name, key_text = _split(segments[0])
    if name not in SOURCES:
        raise LookupError(name)
    steps = [Step(name, _key(key_text, name) if key_text is not None else None)]
    single = key_text is not None
    i = 1
    while i < len(segments):
        segment = segments[i]
        current = SOURCES[steps[-1].set_name]
        name, key_text = _split(segment)
        link = current.links.get(name)
        if link is not None and single:
            if key_text is not None and not link.many:
                raise QueryError("path", f"{name} is a single entity: it takes no id")
            key = _key(key_text, link.target) if key_text is not None else None
            steps.append(Step(link.target, key, name))
            single = (not link.many) or key is not None
            i += 1
            continue
        if segment == "$ref" and i == len(segments) - 1:
            if len(steps) < 2 or steps[-1].via is None:
                raise QueryError("path", "$ref follows a navigation property")
            return Resource(tuple(steps), single, ref=True)
        if single and key_text is None and (segment in current.columns or segment == "id"):
            prop = segment
            rest = segments[i + 1 :]
            if rest == ["$value"]:
                return Resource(tuple(steps), True, prop=prop, value=True)
            if rest:
                raise LookupError("/".join(rest))
            return Resource(tuple(steps), True, prop=prop)
        raise LookupError(segment)
    return Resource(tuple(steps), single)
