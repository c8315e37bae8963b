"""One message's segments arranged by segment group: the tree the mapping rules read.

The segment-group automaton of `formats.edifact.structure` (the one structure validation runs)
says, for each segment, which group it lands in and whether it opens a new repetition of that
group. Segments with no place in the message are left out here: structure validation reports
them. A message without UNH (a bare body) is read as if UNH had come first.
"""

from __future__ import annotations

from collections.abc import Iterable

from edi_gateway.formats.edifact.directory import GroupNode, MessageDef
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.formats.edifact.structure import MessageAutomaton, automaton

_NO_GROUPS: dict[str, list[Instance]] = {}


class Instance:
    """One occurrence of a segment group (or the message, or a lone segment as a context):
    its own segments and the group occurrences nested in it, each by tag or group name."""

    __slots__ = ("first", "groups", "name", "tags")

    def __init__(self, name: str, first: Segment | None) -> None:
        self.name = name
        self.first = first  # the segment that opened it (None for an empty message)
        self.tags: dict[str, list[Segment]] = {}
        self.groups: dict[str, list[Instance]] = {}
        if first is not None:
            self.tags[first.tag] = [first]

    @classmethod
    def of(cls, segment: Segment) -> Instance:
        """A single segment as a context (it holds no groups: they share one empty table)."""
        instance = cls.__new__(cls)
        instance.name = segment.tag
        instance.first = segment
        instance.tags = {segment.tag: [segment]}
        instance.groups = _NO_GROUPS
        return instance


class TreeBuilder:
    """Builds `Instance` trees for one message type; cheap to reuse across messages."""

    def __init__(self, message: MessageDef) -> None:
        self.message = message
        self._automaton: MessageAutomaton = automaton(message)
        self._names: dict[tuple[int, ...], str] = {}

    def build(self, segments: Iterable[Segment]) -> Instance:
        root = Instance(self.message.type, None)
        frames = [root]
        counts = [0]
        path: tuple[int, ...] = (-1,)
        moves_for = self._automaton.moves
        for segment in segments:
            moves = moves_for(path, segment.tag)
            if not moves:
                continue
            move = moves[0]
            if len(moves) > 1:  # like the validator: the first way not repeated too often
                for candidate in moves:
                    if not candidate.repeat or counts[candidate.level] < candidate.max_repeat:
                        move = candidate
                        break
                else:
                    move = moves[-1]
            level = move.level
            count = counts[level] + 1 if move.repeat else 1
            del counts[level:]
            counts.append(count)
            del frames[level + 1 :]
            path = move.path
            holder = frames[level]
            if move.group:
                name = self._group_name(path)
                instance = Instance(name, segment)
                found = holder.groups.get(name)
                if found is None:
                    holder.groups[name] = [instance]
                else:
                    found.append(instance)
                frames.append(instance)
                counts.append(1)
            else:
                if holder.first is None:
                    holder.first = segment
                same = holder.tags.get(segment.tag)
                if same is None:
                    holder.tags[segment.tag] = [segment]
                else:
                    same.append(segment)
        return root

    def _group_name(self, path: tuple[int, ...]) -> str:
        name = self._names.get(path[:-1])
        if name is None:
            node: GroupNode = self.message.root
            for index in path[:-1]:
                child = node.children[index]
                assert isinstance(child, GroupNode)
                node = child
            name = self._names[path[:-1]] = node.name
        return name
