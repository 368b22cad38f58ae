"""The hub's domain records: the bottom layer, imported by every package and
importing none of them (docs/architecture.md)."""

from hub.model.messages import DeadLetter, Item, MessageKind, Outcome, Topic
from hub.model.readings import Reading

__all__ = ["DeadLetter", "Item", "MessageKind", "Outcome", "Reading", "Topic"]
