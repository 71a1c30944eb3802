"""Plain-JSON and indented-text views of ISCN trees and results (for the CLI and HTTP edges)."""

from __future__ import annotations

import dataclasses
from typing import Any

from adapter.iscn.model import Span


def to_json(value: object) -> Any:
    """JSON-ready form of a tree node, result or rearrangement.

    Dataclasses become objects with a ``"type"`` member (the class name, for tree nodes) and
    spans become ``[start, end]``; ``None`` fields and empty tuples are left out.
    """
    if isinstance(value, Span):
        return [value.start, value.end]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"type": type(value).__name__}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None or item == ():
                continue
            out[f.name] = to_json(item)
        return out
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    return value


def tree_lines(node: object, text: str, indent: str = "") -> list[str]:
    """An indented outline of ``node``: one line per node with its span and the text it covers."""
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return [f"{indent}{node!r}"]
    scalars: list[str] = []
    children: list[tuple[str, object]] = []
    for f in dataclasses.fields(node):
        if f.name == "span":
            continue
        item = getattr(node, f.name)
        if item is None or item == () or item is False:
            continue
        if dataclasses.is_dataclass(item) and not isinstance(item, Span):
            children.append((f.name, item))
        elif isinstance(item, tuple) and any(
            dataclasses.is_dataclass(x) or isinstance(x, tuple) for x in item
        ):
            for k, x in enumerate(item):
                if isinstance(x, tuple):
                    for y in x:
                        children.append((f"{f.name}[{k}]", y))
                else:
                    children.append((f"{f.name}[{k}]", x))
        else:
            scalars.append(f"{f.name}={item!r}" if item is not True else f.name)
    span = getattr(node, "span", None)
    where = ""
    if isinstance(span, Span) and span.end > span.start:
        where = f" [{span.start}:{span.end}] {text[span.start : span.end]}"
    head = f"{indent}{type(node).__name__}{where}"
    if scalars:
        head += "  (" + ", ".join(scalars) + ")"
    lines = [head]
    for name, child in children:
        sub = tree_lines(child, text, indent + "    ")
        sub[0] = f"{indent}  {name}: {sub[0].lstrip()}"
        lines.extend(sub)
    return lines
