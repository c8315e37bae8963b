"""The values the EDIFACT tokenizer yields and everything after it consumes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Delimiters:
    """Service string advice (UNA). Defaults are those of syntax level A (UNOA/UNOB...)."""

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str | None = "?"
    repetition: str | None = None  # syntax version 4 uses UNA position 5 ("*")
    segment: str = "'"

    def una(self) -> str:
        return (
            "UNA"
            + self.component
            + self.element
            + self.decimal
            + (self.release or " ")
            + (self.repetition or " ")
            + self.segment
        )


@dataclass(slots=True)
class Segment:
    """One segment, separators and release characters already resolved.

    `elements[i]` is the i-th data element (position i+1) as its list of components; an element
    that repeats (syntax 4 repetition separator) keeps its first occurrence there and all of its
    occurrences in `repeats[i]`.
    """

    tag: str
    elements: list[list[str]]
    number: int = 0  # 1-based position in the interchange (UNB is 1; UNA is not counted)
    offset: int = 0  # byte offset of the tag in the payload
    repeats: dict[int, list[list[str]]] | None = field(default=None)
    # Syntax 4 packages: the object bytes that follow a UNO segment (its S022/0810 octets).
    data: bytes | None = field(default=None)

    def element(self, position: int, component: int = 1, default: str = "") -> str:
        """Value at 1-based element `position` and component, or `default` if absent."""
        try:
            return self.elements[position - 1][component - 1]
        except IndexError:
            return default
