"""YAML as chaosgate reads it from users: PyYAML's safe loader, bounded.

A document nested deeper than :data:`MAX_YAML_DEPTH` levels, an alias to an anchor that
contains it (a recursive document), or one whose aliases expand to more than
:data:`MAX_YAML_NODES` nodes (an alias bomb: each alias counts as the whole node it names) is
refused before anything is built from it, with a :class:`YamlError` naming the line and
column. Plain YAML errors become a :class:`YamlError` too. Its message is the reason and the
fix, to follow the file's name.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node

__all__ = ["MAX_YAML_DEPTH", "MAX_YAML_NODES", "YamlError", "load_yaml"]

MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 100_000


class YamlError(Exception):
    """The text is not YAML chaosgate reads; ``str()`` is where, what and how to fix it."""


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, counting depth and the expanded size of every node as it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}

    def _count(self, size: int, mark: Any) -> None:
        self._nodes += size
        if self._nodes > MAX_YAML_NODES:
            raise YamlError(
                f"{_where(mark)}more than {MAX_YAML_NODES} values once its aliases are "
                "expanded (an alias bomb?); write the values out, or use fewer aliases"
            )

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            if event.anchor in self._open_anchors:
                raise YamlError(
                    f"{_where(event.start_mark)}alias *{event.anchor} refers to the value that "
                    "contains it (a recursive document); write the value out"
                )
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(id(node), 1), event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise YamlError(
                f"{_where(event.start_mark)}nested more than {MAX_YAML_DEPTH} levels deep; "
                "flatten the document"
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        start = self._nodes
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)
        self._count(1, event.start_mark)
        self._sizes[id(node)] = self._nodes - start
        return node


def load_yaml(text: str) -> Any:
    """The single YAML document in ``text`` (None when empty), bounded as the module says."""
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise YamlError(
            f"{_where(mark)}invalid YAML ({problem}); fix the YAML syntax there"
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(
            f"invalid YAML ({' '.join(str(exc).split())}); fix the YAML syntax"
        ) from None
    except RecursionError:
        raise YamlError("nested too deep; flatten the document") from None
    finally:
        if loader is not None:
            loader.dispose()
