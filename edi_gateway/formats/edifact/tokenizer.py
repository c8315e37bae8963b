"""The streaming UN/EDIFACT tokenizer: a binary stream in, `Segment` values out.

The stream is read in fixed-size chunks, so memory does not depend on the size of the
interchange: only the unfinished tail of a chunk is carried over to the next one.

Three loops, from fast to careful, share the work:

- the fast loop takes a region of complete segments (up to 16 KiB) that one `bytes.decode`
  turns into one character per byte and in which a few C-level scans found no byte outside
  the charset: its release characters cut it into runs, one `str.split` cuts a run into
  segments, and only the segments that hold a release character are split the slower way
  (released separators swapped for placeholders, then the same splits); the region ends
  before the first UNA/UNB/UNO/UNZ;
- the careful text loop handles the interchange boundaries and bytes outside the charset;
- the byte loop (one `bytes.find` and one decode per segment) handles regions that cannot be
  decoded in one go (multi-byte UTF-8, undecodable bytes) and the end of the stream.

No loop looks at characters one by one in Python, except `split_by_scanning` for the odd
segment with a release character before an ordinary character. Each loop is a generator that
`itertools.chain` drains in C, so per segment only the loop that builds it is resumed.

What the tokenizer knows about the interchange it is in (`delimiters`, `charset`, `una`) is
updated before the UNB segment is yielded, so a consumer that sees UNB can read them.

Defects are findings (`Tokenizer.findings`, appended while iterating), never exceptions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from itertools import chain, repeat
from typing import Protocol

from edi_gateway.formats.edifact.segments import Delimiters, Segment
from edi_gateway.model.findings import Finding, Location, Severity

CHUNK_SIZE = 64 * 1024
MAX_FINDINGS = 1000
SOURCE = "edifact"

# UN/EDIFACT service code list 0085 (syntax error codes) used by the tokenizer.
INVALID_SERVICE_CHARACTER = "20"  # a character advised in UNA cannot be a service character
INVALID_CHARACTER = "21"
INVALID_VALUE = "12"
MISSING = "13"
INVALID_OCCURRENCE = "33"  # something outside the interchange envelope
CHARSET_NOT_SUPPORTED = "46"
SYNTAX_NOT_SUPPORTED = "2"  # syntax version or level (the character repertoire) not supported

# At most this many bytes are decoded and split in one go (each UNA/UNB/UNO/UNZ starts a new
# region, so a cap keeps many tiny interchanges from costing quadratic time).
REGION = 16 * 1024

# Bytes allowed between segments and before an interchange.
_WHITESPACE = b" \t\r\n"
_GAP_CHARS = " \t\r\n"
_WHITESPACE_INTS = frozenset(_WHITESPACE)

# Character repertoires of syntax levels A and B (ISO 9735, the UNOA/UNOB code descriptions).
LEVEL_A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-()/='+:?!\"%&*;<>"
LEVEL_B = LEVEL_A + "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Charset:
    """How to turn the bytes of an interchange declared with a syntax identifier into text."""

    syntax_id: str
    codec: str
    repertoire: str | None = None  # the only characters allowed (levels A and B)
    c1_invalid: bool = False  # ISO 8859: 0x80-0x9F are control codes, not text
    supported: bool = True


# Until UNB says otherwise, bytes are read as Latin-1 (every byte decodes) and not checked.
UNDECLARED = Charset("", "latin-1", supported=False)

CHARSETS: dict[str, Charset] = {
    "UNOA": Charset("UNOA", "ascii", LEVEL_A),
    "UNOB": Charset("UNOB", "ascii", LEVEL_B),
    "UNOC": Charset("UNOC", "iso8859-1", c1_invalid=True),
    "UNOD": Charset("UNOD", "iso8859-2", c1_invalid=True),
    "UNOE": Charset("UNOE", "iso8859-5", c1_invalid=True),
    "UNOF": Charset("UNOF", "iso8859-7", c1_invalid=True),
    "UNOG": Charset("UNOG", "iso8859-3", c1_invalid=True),
    "UNOH": Charset("UNOH", "iso8859-4", c1_invalid=True),
    "UNOI": Charset("UNOI", "iso8859-6", c1_invalid=True),
    "UNOJ": Charset("UNOJ", "iso8859-8", c1_invalid=True),
    "UNOK": Charset("UNOK", "iso8859-9", c1_invalid=True),
    "UNOL": Charset("UNOL", "iso8859-15", c1_invalid=True),
    "UNOW": Charset("UNOW", "utf-8", c1_invalid=True),
    "UNOY": Charset("UNOY", "utf-8", c1_invalid=True),
    # ISO 2022 code extension: the escape sequences are not interpreted; bytes pass as Latin-1.
    "UNOX": Charset("UNOX", "latin-1", supported=False),
    # IATA's own syntax identifiers (PAORES and friends) use the level A and B repertoires.
    "IATA": Charset("IATA", "ascii", LEVEL_A),
    "IATB": Charset("IATB", "ascii", LEVEL_B),
}


def charset_for(syntax_id: str) -> Charset | None:
    """The character set of a UNB syntax identifier (S001/0001), None when unknown."""
    return CHARSETS.get(syntax_id)


# Placeholders for released service characters: Unicode noncharacters, which a well-formed
# interchange never contains (a segment that does is split by the character scanner instead).
_P_RELEASE, _P_COMPONENT, _P_ELEMENT, _P_TERMINATOR, _P_REPETITION = (
    "\ufdd0",
    "\ufdd1",
    "\ufdd2",
    "\ufdd3",
    "\ufdd4",
)
_PLACEHOLDER_RE = re.compile("[\ufdd0-\ufdd4]")


class ByteSource(Protocol):
    """What the tokenizer reads from: any binary file object (file, BytesIO, socket file...)."""

    def read(self, size: int = -1, /) -> bytes | None: ...


Elements = list[list[str]]
Repeats = dict[int, list[list[str]]] | None


def split_plain(text: str, d: Delimiters) -> tuple[str, Elements, Repeats]:
    """Split a segment's text that holds no release character: tag, elements, repetitions."""
    parts = text.split(d.element)
    tag = parts[0]
    comp = d.component
    if comp in tag:  # syntax 1-3 allow nesting indicators after the tag ("TAG:1:2")
        tag = tag.split(comp, 1)[0]
    rep = d.repetition
    if rep is None or rep not in text:
        return tag, [p.split(comp) for p in parts[1:]], None
    elements: Elements = []
    repeats: dict[int, list[list[str]]] = {}
    for index, part in enumerate(parts[1:]):
        if rep in part:
            occurrences = [o.split(comp) for o in part.split(rep)]
            elements.append(occurrences[0])
            repeats[index] = occurrences
        else:
            elements.append(part.split(comp))
    return tag, elements, repeats or None


def split_released(text: str, d: Delimiters) -> tuple[str, Elements, Repeats]:
    """Split a segment's text that contains the release character.

    Released service characters are swapped for placeholders, the plain split runs, and the
    placeholders are turned back into the characters they stand for. `str.replace` works left
    to right, so a run of release characters pairs up exactly as a left-to-right reader would.
    """
    rel = d.release
    if rel is None:
        return split_plain(text, d)
    if not text.isascii() and _PLACEHOLDER_RE.search(text):
        return split_by_scanning(text, d)
    # Keyed on the characters: hashing a `Delimiters` (a dataclass) costs more than the split.
    pairs = _release_pairs(rel, d.component, d.element, d.segment, d.repetition)
    protected = text
    for pair, placeholder in pairs:
        protected = protected.replace(pair, placeholder)
    if rel in protected:  # a release before an ordinary character, or at the very end
        return split_by_scanning(text, d)
    if d.repetition is None or d.repetition not in protected:
        # Placeholders are not ASCII: an ASCII element (nearly all) needs no translation.
        comp = d.component
        elements = [
            p.split(comp) if p.isascii() else [_restored(c, pairs) for c in p.split(comp)]
            for p in protected.split(d.element)
        ]
        return elements.pop(0)[0], elements, None
    tag, elements, repeats = split_plain(protected, d)
    # Placeholders are not ASCII: ASCII components (nearly all) need no translation.
    elements = [[c if c.isascii() else _restored(c, pairs) for c in el] for el in elements]
    if repeats is not None:
        repeats = {
            k: [[c if c.isascii() else _restored(c, pairs) for c in occ] for occ in v]
            for k, v in repeats.items()
        }
    return (tag if tag.isascii() else _restored(tag, pairs)), elements, repeats


@lru_cache(maxsize=32)
def _release_pairs(
    rel: str, component: str, element: str, segment: str, repetition: str | None
) -> tuple[tuple[str, str], ...]:
    """For `split_released`: (released pair, its placeholder) in replacement order, the
    released release character first. The character a placeholder stands for is `pair[1]`."""
    pairs = [(rel + rel, _P_RELEASE)]
    for char, placeholder in (
        (component, _P_COMPONENT),
        (element, _P_ELEMENT),
        (segment, _P_TERMINATOR),
        (repetition, _P_REPETITION),
    ):
        if char is not None:
            pairs.append((rel + char, placeholder))
    return tuple(pairs)


def _restored(value: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """`value` with its placeholders turned back into the characters they stand for
    (a few `str.replace` calls beat `str.translate`, whose dict lookups are per character)."""
    for pair, placeholder in pairs:
        if placeholder in value:
            value = value.replace(placeholder, pair[1])
    return value


def split_by_scanning(text: str, d: Delimiters) -> tuple[str, Elements, Repeats]:
    """The character-by-character reference split, for the odd cases.

    A release character makes the next character, whatever it is, ordinary data (tolerant,
    as most readers are); a release character at the very end is kept as data.
    """
    rel, comp, elem, rep = d.release, d.component, d.element, d.repetition
    fields: list[list[list[str]]] = [[[]]]  # elements -> occurrences -> components
    current: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == rel:
            current.append(next(chars, ch))
        elif ch == comp:
            fields[-1][-1].append("".join(current))
            current = []
        elif ch == elem:
            fields[-1][-1].append("".join(current))
            current = []
            fields.append([[]])
        elif ch == rep:
            fields[-1][-1].append("".join(current))
            current = []
            fields[-1].append([])
        else:
            current.append(ch)
    fields[-1][-1].append("".join(current))
    tag = fields[0][0][0]
    elements: Elements = []
    repeats: dict[int, list[list[str]]] = {}
    for index, occurrences in enumerate(fields[1:]):
        elements.append(occurrences[0])
        if len(occurrences) > 1:
            repeats[index] = occurrences
    return tag, elements, repeats or None


def split_segment(text: str, d: Delimiters) -> tuple[str, Elements, Repeats]:
    """Tag, elements and repetitions of one segment's text (without its terminator)."""
    if d.release is not None and d.release in text:
        return split_released(text, d)
    return split_plain(text, d)


@lru_cache(maxsize=64)
def _invalid_patterns(
    charset: Charset, service: str
) -> tuple[re.Pattern[bytes], re.Pattern[str], bytes]:
    """Patterns matching one byte / one character that does not fit `charset`, and the bytes
    that do (for `bytes.translate(None, allowed)`, the quickest "is it all clean?" test).

    The bytes pattern finds the next suspect byte in a chunk; the text pattern pinpoints the
    culprit in the few segments flagged. Service characters and the whitespace allowed
    between segments never count as invalid here.
    """
    allowed_extra = set(service) | set("\r\n\t")
    if charset.repertoire is not None:
        allowed = set(charset.repertoire) | allowed_extra
        bad = [b for b in range(256) if chr(b) not in allowed]
        text_class = "[^" + re.escape("".join(sorted(allowed))) + "\ufffd]"
    else:
        controls = [*range(0x20), 0x7F]
        if charset.c1_invalid:
            controls += range(0x80, 0xA0)
        text_bad = [c for c in controls if chr(c) not in allowed_extra]
        # In UTF-8, bytes 0x80-0x9F are continuation bytes: screen controls only as text.
        bad = text_bad if charset.codec != "utf-8" else [c for c in text_bad if c < 0x80]
        text_class = "[" + re.escape("".join(chr(c) for c in text_bad)) + "]"
    bytes_class = b"[" + re.escape(bytes(bad)) + b"]" if bad else b"(?!)"
    allowed_bytes = bytes(b for b in range(256) if b not in set(bad))
    return re.compile(bytes_class), re.compile(text_class), allowed_bytes


def _odd_release_run(buf: bytes | str, start: int, end: int, release: int | str) -> bool:
    """True when buf[start:end] ends in an odd number of release characters."""
    count = 0
    k = end - 1
    while k >= start and buf[k] == release:
        count += 1
        k -= 1
    return count % 2 == 1


def _position_in(text: str, index: int, d: Delimiters) -> tuple[int, int]:
    """1-based (element, component) of `text[index]`; element 0 is the tag. Ignores releases."""
    head = text[:index]
    element = head.count(d.element)
    last = head.rfind(d.element)
    component = head[last + 1 :].count(d.component) + 1
    return element, component


def _looks_like_start(buf: bytes, p: int, terminators: bytes) -> bool:
    """A UNA/UNB at `p` starts an interchange only at a segment boundary."""
    return p == 0 or buf[p - 1] in _WHITESPACE_INTS or buf[p - 1] in terminators


# The fast loop fills a `Segment`'s slots itself instead of calling its dataclass `__init__`
# (a Python call per segment, a tenth of the tokenizer's time). Should `Segment` gain a field,
# this fails at import rather than yield segments without it.
_SEGMENT_FIELDS = ("tag", "elements", "number", "offset", "repeats", "data")
if tuple(f.name for f in fields(Segment)) != _SEGMENT_FIELDS:
    raise ImportError(f"Segment's fields changed: update Tokenizer._fast_segments ({__name__}).")


@dataclass(frozen=True, slots=True)
class _FastPlan:
    text: str  # the region, cut to end before its first service segment
    releases: list[int]  # positions in `text` of the (unreleased) release characters
    strip: bool  # whitespace or an empty segment follows some terminator


@lru_cache(maxsize=32)
def _boundary_pattern(term: str) -> re.Pattern[str]:
    """A terminator followed by whitespace, another terminator or UNA/UNB/UNO/UNZ: the first
    match says both whether the fast loop must strip gaps and, often, where it must stop."""
    t = re.escape(term)
    return re.compile(f"{t}(?:[ \t\r\n{t}]|UN[ABOZ])")


_SERVICE_TAG = re.compile("UN[ABOZ]")


def _service_segment_start(text: str, term: str) -> int:
    """Where the first UNA, UNB, UNO or UNZ segment of `text` starts (after the terminator
    and whitespace before it), or -1. A released terminator may fool it: the fast loop then
    simply stops early, it is never wrong."""
    match = _SERVICE_TAG.search(text)
    while match is not None:
        b = match.start()
        while b > 0 and text[b - 1] in _GAP_CHARS:
            b -= 1
        if b == 0 or text[b - 1] == term:
            return b
        match = _SERVICE_TAG.search(text, match.start() + 1)  # inside a value ("UNBEKANNT")
    return -1


# Segments the hot loop hands to the interchange bookkeeping.
_SPECIAL_TAGS = frozenset(("UNB", "UNO", "UNZ"))

# Where an interchange may start inside other data: a UNA whose separators and terminator
# are plausible (not letters, digits or spaces), or a UNB with a syntax identifier.
_START = re.compile(rb"UNA[^\w\s]{2}...[^\w ]|UNB\+[A-Z]{4}[^\w\s]", re.DOTALL)


class Tokenizer:
    """Iterate the segments of every interchange in a binary stream.

    >>> tok = Tokenizer(io.BytesIO(payload))
    >>> for segment in tok:              # lazily, chunk by chunk
    ...     ...                          # tok.findings grows as defects are met
    """

    def __init__(
        self,
        source: ByteSource,
        *,
        chunk_size: int = CHUNK_SIZE,
        max_findings: int = MAX_FINDINGS,
        strict_repertoire: bool = False,
    ) -> None:
        self.findings: list[Finding] = []
        self.delimiters = Delimiters()
        self.charset = UNDECLARED
        self.una = False  # the current interchange was announced by a UNA segment
        self.interchanges = 0  # UNB segments met so far
        self._source = source
        self._chunk_size = max(1, chunk_size)
        self._max_findings = max_findings
        self._strict = strict_repertoire
        self._outside = True  # between interchanges: looking for UNA or UNB
        self._number = 0  # segment number in the current interchange
        self._base = 0  # absolute offset of the current buffer's first byte
        self._skipped = 0  # bytes skipped outside any interchange, not yet reported
        self._skipped_at = 0
        self._skipped_head = b""
        self._bad_bytes, self._bad_text, self._allowed_bytes = _invalid_patterns(UNDECLARED, "")
        self._iterator: Iterator[Segment] | None = None
        self._need = 0  # bytes an unfinished object (after UNO) still needs
        self._resume = 0  # where the last fast loop stopped in the buffer
        self._result = (0, False)  # what the last careful loop returned

    @classmethod
    def from_bytes(cls, data: bytes, **options: int | bool) -> Tokenizer:
        return cls(io.BytesIO(data), **options)  # type: ignore[arg-type]

    @property
    def _term(self) -> bytes:
        return self.delimiters.segment.encode("latin-1")

    def __iter__(self) -> Iterator[Segment]:
        if self._iterator is None:
            # `_runs` hands out runs of segments (a generator per region) and `chain` walks
            # them in C: per segment, only the generator that builds it is resumed.
            self._iterator = chain.from_iterable(self._runs())
        return self._iterator

    # -- findings --------------------------------------------------------------------------

    def _report(
        self,
        code: str,
        text: str,
        severity: Severity = Severity.ERROR,
        **where: int | str | None,
    ) -> None:
        if len(self.findings) > self._max_findings:
            return
        if len(self.findings) == self._max_findings:
            code, severity, where = "18", Severity.WARNING, {}
            text = f"More than {self._max_findings} tokenizer findings; the rest are not reported."
        self.findings.append(
            Finding(
                code=code, severity=severity, text=text, location=Location(**where), source=SOURCE
            )
        )

    def _report_skipped(self) -> None:
        if self._skipped:
            preview = self._skipped_head[:40].decode("latin-1")
            self._report(
                INVALID_OCCURRENCE,
                f"Expected an interchange to start with UNA or UNB; skipped {self._skipped} "
                f"byte(s) of other data starting with {preview!r}.",
                Severity.WARNING,
                offset=self._skipped_at,
            )
            self._skipped = 0
            self._skipped_head = b""

    # -- the reading loop --------------------------------------------------------------------

    def _runs(self) -> Iterator[Iterable[Segment]]:
        """Read chunk by chunk; between interchanges seek the next one; inside one, hand the
        complete segments to the fast loop, else the careful text loop, else the byte loop.
        Each loop is a run of segments that `chain` drains before asking for the next one, so
        what a loop leaves in `_resume` / `_result` is read only after it has finished. The
        careful loops end with (position, True) when the interchange state changed (UNA, UNB,
        UNO or UNZ met), so that the service characters and charset are read again."""
        read = self._source.read
        buf = b""
        i = 0
        eof = False
        while not eof:
            chunk = read(max(self._chunk_size, self._need)) or b""
            self._need = 0
            if chunk:
                buf = buf[i:] + chunk
                self._base += i
                i = 0
            else:
                eof = True
            while True:  # until `buf` needs more bytes
                if self._outside:
                    i = self._seek_interchange(buf, i, eof)
                    if self._outside:
                        break
                if buf.startswith(b"UNA", i):
                    resume = self._read_una(buf, i, eof)
                    if resume is None:
                        break
                    i = resume
                text = self._decoded_region(buf, i)
                if text is not None:
                    before = i
                    plan = self._fast_plan(buf, i, text)
                    if plan is not None:
                        yield self._fast_segments(i, plan)
                        i = self._resume
                        if i > before:
                            continue
                    yield self._captured(self._text_segments(buf, i, text, eof))
                    i, changed = self._result
                    if changed or (i > before and buf.find(self._term, i) >= 0):
                        continue
                yield self._captured(self._byte_segments(buf, i, eof))
                i, changed = self._result
                if not changed:
                    break
        self._report_skipped()
        if self.interchanges == 0 and not self.una:
            self._report(
                MISSING,
                "Expected an interchange header (UNB); the payload has none.",
                Severity.FATAL,
            )

    def _captured(self, loop: Generator[Segment, None, tuple[int, bool]]) -> Iterator[Segment]:
        """A careful loop as a run: its segments, then its return value kept in `_result`."""
        self._result = yield from loop

    def _decoded_region(self, buf: bytes, i: int) -> str | None:
        """The complete segments from `i` (at most ~REGION bytes) as text, when one decode call
        turns them into exactly one character per byte (so text positions are byte offsets)."""
        term = self._term
        end = buf.rfind(term, i, i + REGION) + 1 or buf.rfind(term, i) + 1
        if end <= i:
            return None
        region = buf[i:end]
        try:
            text = region.decode(self.charset.codec)
        except UnicodeDecodeError:
            return None
        return text if len(text) == len(region) else None

    def _fast_plan(self, buf: bytes, i: int, text: str) -> _FastPlan | None:
        """Prepare the fastest path for a decoded region, or None when the region needs the
        careful loop of `_text_segments` (a byte outside the charset, a repetition separator,
        or a UNA/UNB/UNO/UNZ at its very start).

        The region is cut before its first UNA/UNB/UNO/UNZ segment, so that interchange state
        changes stay in the careful loop. Instead of testing every segment, the plan scans the
        region a few times in C: where the release characters are, and whether whitespace
        (or an empty segment) follows any terminator.
        """
        d = self.delimiters
        term, release = d.segment, d.release
        if buf[i : i + len(text)].translate(None, self._allowed_bytes):
            return None  # some byte does not fit the charset: the careful loop reports it
        if d.repetition is not None and d.repetition in text:
            return None
        if text[0] in _GAP_CHARS or text[0] == term or _SERVICE_TAG.match(text):
            strip, cut = True, _service_segment_start(text, term)
        else:
            boundary = _boundary_pattern(term).search(text)
            if boundary is None:
                strip, cut = False, -1
            elif boundary.end() - boundary.start() > 2:  # a service segment, no gap before it
                strip, cut = False, boundary.start() + 1
            else:
                strip, cut = True, _service_segment_start(text, term)
        if cut >= 0:
            text = text[:cut]
        if not text:
            return None
        releases = []
        if release is not None:
            k = text.find(release)
            while k >= 0:
                releases.append(k)
                k = text.find(release, k + 2)  # a released character is data
        return _FastPlan(text, releases, strip)

    def _fast_segments(self, i: int, plan: _FastPlan) -> Iterator[Segment]:
        """The fast loop (see `_fast_plan`); `i` is where `plan.text` starts in the buffer.

        Release characters cut the region into runs: the segments between two of them are
        split on the terminator at once and go through the tight loop below; a segment holding
        one ends at the first terminator not released and goes through `split_released`.
        Leaves where to go on from in `_resume`.
        """
        d = self.delimiters
        term, release = d.segment, d.release or ""
        element_sep = d.element
        components = repeat(d.component)  # map(split, parts, components): no Python frame
        split = str.split
        new = Segment.__new__
        text = plan.text
        strip = plan.strip
        origin = self._base + i  # offset of text[0]
        number = self._number
        at = 0  # where the next segment starts in `text`
        for r in chain(plan.releases, (len(text),)):  # the end of the text closes the last run
            if r < at:
                continue  # inside a segment already read
            cut = text.rfind(term, at, r) + 1 or at  # the start of the segment holding text[r]
            pieces = text[at:cut].split(term)
            pieces.pop()  # after the run's last terminator: nothing
            offset = origin + at
            if strip:
                for raw in pieces:
                    piece = raw.lstrip(_GAP_CHARS)
                    if piece:
                        elements = [*map(split, piece.split(element_sep), components)]
                        number += 1
                        segment = new(Segment)
                        segment.tag = elements.pop(0)[0]
                        segment.elements = elements
                        segment.number = number
                        segment.offset = offset + len(raw) - len(piece)
                        segment.repeats = segment.data = None
                        yield segment
                    offset += len(raw) + 1
            else:
                for piece in pieces:
                    elements = [*map(split, piece.split(element_sep), components)]
                    number += 1
                    segment = new(Segment)
                    segment.tag = elements.pop(0)[0]
                    segment.elements = elements
                    segment.number = number
                    segment.offset = offset
                    segment.repeats = segment.data = None
                    yield segment
                    offset += len(piece) + 1
            if r == len(text):
                at = cut
                break
            end = text.find(term, r)
            while end >= 0 and text[end - 1] == release and _odd_release_run(text, r, end, release):
                end = text.find(term, end + 1)  # a released terminator: the segment goes on
            if end < 0:  # ... in the next region
                at = cut
                break
            piece = text[cut:end].lstrip(_GAP_CHARS)
            if piece:
                tag, elements, repeats = split_released(piece, d)
                number += 1
                yield Segment(tag, elements, number, origin + end - len(piece), repeats)
            at = end + 1
        self._number = number
        self._resume = i + at

    def _text_segments(
        self, buf: bytes, i: int, text: str, eof: bool
    ) -> Generator[Segment, None, tuple[int, bool]]:
        """The careful text loop: `text` is buf[i:...] decoded, ending with a terminator. Like
        the fast loop it splits the region once, but checks every segment: UNA, the service
        segments that change the interchange state, bytes outside the charset, repetitions."""
        d = self.delimiters
        term, release = d.segment, d.release
        element_sep, component_sep, repetition = d.element, d.component, d.repetition
        codec = self.charset.codec
        base = self._base
        number = self._number
        search_bad = self._bad_bytes.search
        match = search_bad(buf, i)
        bad_at = match.start() if match else len(buf)
        pieces = text.split(term)
        pieces.pop()  # what follows the region's last terminator: nothing
        pos = i  # buffer position of the next raw piece
        seg_start = i
        carry: str | None = None
        for raw in pieces:
            if carry is None:
                seg_start = pos
                whole = raw
            else:
                whole = carry + term + raw
                carry = None
            pos += len(raw) + 1  # pos - 1 is this piece's terminator
            if (
                release is not None
                and whole.endswith(release)
                and (len(whole) - len(whole.rstrip(release))) % 2
            ):
                carry = whole  # a released terminator: the segment goes on
                continue
            piece = whole.lstrip(_GAP_CHARS)
            if not piece:
                continue
            start = pos - 1 - len(piece)
            if piece.startswith("UNA"):
                self._number = number
                return start, True
            if bad_at < pos - 1:
                self._number = number
                piece = self._checked_text(buf[start : pos - 1], base + start, codec, d)
                match = search_bad(buf, pos)
                bad_at = match.start() if match else len(buf)
            if release is not None and release in piece:
                tag, elements, repeats = split_released(piece, d)
            elif repetition is not None and repetition in piece:
                tag, elements, repeats = split_plain(piece, d)
            else:  # the common case, inlined: no release, no repetition
                elements = [p.split(component_sep) for p in piece.split(element_sep)]
                tag = elements.pop(0)[0]
                repeats = None
            if tag in _SPECIAL_TAGS:
                self._number = number
                return (yield from self._special(buf, start, pos, tag, elements, repeats, eof))
            number += 1
            yield Segment(tag, elements, number, base + start, repeats)
        self._number = number
        return (seg_start if carry is not None else pos), False

    def _byte_segments(
        self, buf: bytes, i: int, eof: bool
    ) -> Generator[Segment, None, tuple[int, bool]]:
        """The general path, one segment at a time: `bytes.find` for the terminator, one
        decode per segment. Used when the region cannot be decoded in one go (bytes that do
        not fit the charset, multi-byte UTF-8) and for the end of the stream."""
        d = self.delimiters
        term = self._term
        release = ord(d.release) if d.release is not None else -1
        release_char = d.release.encode("latin-1") if d.release is not None else None
        codec = self.charset.codec
        base = self._base
        number = self._number
        search_bad = self._bad_bytes.search
        match = search_bad(buf, i)
        bad_at = match.start() if match else len(buf)
        while True:
            j = buf.find(term, i)
            # A terminator preceded by an odd run of release characters is data.
            while j > i and buf[j - 1] == release and _odd_release_run(buf, i, j, release):
                j = buf.find(term, j + 1)
            if j < 0:
                break
            piece = buf[i:j].lstrip(_WHITESPACE)
            if not piece:
                i = j + 1
                continue
            start = j - len(piece)
            if piece.startswith(b"UNA"):
                self._number = number
                return start, True
            self._number = number
            if bad_at < j:
                text = self._checked_text(piece, base + start, codec, d)
                match = search_bad(buf, j + 1)
                bad_at = match.start() if match else len(buf)
            else:
                try:
                    text = piece.decode(codec)
                except UnicodeDecodeError:
                    text = self._checked_text(piece, base + start, codec, d)
            i = j + 1
            if release_char is not None and release_char in piece:
                tag, elements, repeats = split_released(text, d)
            else:
                tag, elements, repeats = split_plain(text, d)
            if tag in _SPECIAL_TAGS:
                return (yield from self._special(buf, start, i, tag, elements, repeats, eof))
            number += 1
            yield Segment(tag, elements, number, base + start, repeats)
        self._number = number
        if eof:
            yield from self._tail(buf, i)
            return len(buf), False
        return i, False

    def _special(
        self,
        buf: bytes,
        start: int,
        end: int,
        tag: str,
        elements: Elements,
        repeats: Repeats,
        eof: bool,
    ) -> Generator[Segment, None, tuple[int, bool]]:
        """UNB, UNO and UNZ change what comes next: yield the segment, say where to resume.
        `start` is the segment's position in `buf`, `end` just after its terminator."""
        offset = self._base + start
        if tag == "UNB":
            yield self._open_interchange(buf[start : end - 1], offset, elements)
            return end, True
        if tag == "UNO":  # a syntax 4 package: the object's raw bytes follow the segment
            object_read = self._read_object(buf, end, elements, offset, eof)
            if object_read is None:
                return start, False  # read on, then come back to this UNO
            data, end = object_read
            self._number += 1
            yield Segment(tag, elements, self._number, offset, repeats, data)
            return end, True
        self._number += 1  # UNZ
        self._outside = True
        yield Segment(tag, elements, self._number, offset, repeats)
        return end, True

    def _read_object(
        self, buf: bytes, i: int, elements: Elements, offset: int, eof: bool
    ) -> tuple[bytes | None, int] | None:
        """The object after UNO at `i`: (bytes, where segments resume); None to read more."""
        length = elements[3][0] if len(elements) > 3 else ""
        if not length.isdigit():
            self._report(
                INVALID_VALUE,
                f"Expected the object length in octets in UNO S022/0810; found {length!r}, so "
                "the object that follows is read as segments.",
                segment=self._number + 1,
                segment_tag="UNO",
                element=4,
                component=1,
                offset=offset,
            )
            return None, i
        end = i + int(length)
        if end <= len(buf):
            return buf[i:end], end
        if not eof:
            self._need = end - len(buf)
            return None
        self._report(
            MISSING,
            f"Expected {length} octets of object data after UNO; the stream ended after "
            f"{len(buf) - i}.",
            segment=self._number + 1,
            segment_tag="UNO",
            offset=offset,
        )
        return buf[i:], len(buf)

    def _tail(self, buf: bytes, i: int) -> Iterator[Segment]:
        """At the end of the stream: a last segment without its terminator."""
        piece = buf[i:].lstrip(_WHITESPACE).rstrip(_WHITESPACE)
        if not piece:
            return
        start = self._base + len(buf) - len(buf[i:].lstrip(_WHITESPACE))
        text = self._checked_text(piece, start, self.charset.codec, self.delimiters)
        tag, elements, repeats = split_segment(text, self.delimiters)
        self._number += 1
        self._report(
            MISSING,
            f"Expected the segment terminator {self.delimiters.segment!r} after segment {tag}; "
            "the stream ended first.",
            segment=self._number,
            segment_tag=tag,
            offset=start,
        )
        yield Segment(tag, elements, self._number, start, repeats)

    # -- interchange boundaries --------------------------------------------------------------

    def _seek_interchange(self, buf: bytes, i: int, eof: bool) -> int:
        """Between interchanges: skip whitespace and foreign data up to the next UNA/UNB."""
        n = len(buf)
        while i < n and buf[i] in _WHITESPACE_INTS:
            i += 1
        if n - i < 4 and not eof:
            return i
        if i >= n:
            return i
        if buf.startswith(b"UNA", i) or buf.startswith(b"UNB", i):
            self._enter(i)
            return i
        terminators = b"'" + self.delimiters.segment.encode("latin-1")
        for match in _START.finditer(buf, i + 1):
            if _looks_like_start(buf, match.start(), terminators):
                self._skip(buf, i, match.start())
                self._enter(match.start())
                return match.start()
        keep = n if eof else max(i, n - 9)  # a UNA or UNB may continue in the next chunk
        self._skip(buf, i, keep)
        return keep

    def _skip(self, buf: bytes, start: int, end: int) -> None:
        if end <= start:
            return
        if not self._skipped:
            self._skipped_at = self._base + start
        if len(self._skipped_head) < 40:
            self._skipped_head += buf[start : start + 40]
        self._skipped += end - start

    def _enter(self, at: int) -> None:
        """An interchange starts at `at` (UNA or UNB): reset to the default service characters."""
        self._report_skipped()
        self._outside = False
        self.delimiters = Delimiters()
        self.charset = UNDECLARED
        self.una = False
        self._number = 0
        self._set_patterns()

    def _read_una(self, buf: bytes, p: int, eof: bool) -> int | None:
        """Read the service string advice at `p`; None when more bytes are needed."""
        if len(buf) - p < 9:
            if not eof:
                return None
            self._report(
                MISSING,
                "Expected UNA followed by six service characters; the stream ended first.",
                Severity.FATAL,
                offset=self._base + p,
            )
            self._outside = True
            return len(buf)
        chars = buf[p + 3 : p + 9].decode("latin-1")
        self._report_skipped()
        self._outside = False
        self.una = True
        self.charset = UNDECLARED
        self._number = 0
        self.delimiters = Delimiters(
            component=chars[0],
            element=chars[1],
            decimal=chars[2],
            release=None if chars[3] == " " else chars[3],
            repetition=None if chars[4] == " " else chars[4],
            segment=chars[5],
        )
        self._check_una(chars, self._base + p)
        self._set_patterns()
        return p + 9

    def _check_una(self, chars: str, offset: int) -> None:
        service = [chars[0], chars[1], chars[3], chars[4], chars[5]]
        used = [c for c in service if c != " "]
        problems = []
        if len(set(used)) != len(used):
            problems.append("the same character is advised for two roles")
        if any(c.isalnum() for c in chars):
            problems.append("letters and digits cannot be service characters")
        if chars[0] == " " or chars[1] == " " or chars[5] == " ":
            problems.append("the separators and the terminator cannot be spaces")
        if problems:
            self._report(
                INVALID_SERVICE_CHARACTER,
                f"Expected six distinct service characters in UNA; found {chars!r}: "
                + "; ".join(problems)
                + ".",
                Severity.FATAL,
                segment_tag="UNA",
                offset=offset,
            )

    def _open_interchange(self, piece: bytes, offset: int, elements: Elements) -> Segment:
        """UNB: learn the character set and syntax version, then re-read UNB with them."""
        self.interchanges += 1
        self._outside = False
        syntax = elements[0] if elements else [""]
        syntax_id = syntax[0]
        version = syntax[1] if len(syntax) > 1 else ""
        charset = charset_for(syntax_id) or Charset(syntax_id, "latin-1", supported=False)
        if syntax_id not in CHARSETS or syntax_id == "UNOX":
            unknown = syntax_id not in CHARSETS
            self._report(
                SYNTAX_NOT_SUPPORTED if unknown else CHARSET_NOT_SUPPORTED,
                f"Expected a syntax identifier UNOA to UNOY in UNB; found {syntax_id!r}, so the "
                "data is read as Latin-1 and its characters are not checked.",
                Severity.FATAL if unknown else Severity.WARNING,
                segment=1,
                segment_tag="UNB",
                element=1,
                component=1,
                offset=offset,
            )
        d = self.delimiters
        if version == "4" and not self.una and d.repetition is None:
            d = Delimiters(d.component, d.element, d.decimal, d.release, "*", d.segment)
        elif version != "4" and d.repetition is not None:
            # Before syntax 4, UNA position 5 is reserved: it is not a repetition separator.
            d = Delimiters(d.component, d.element, d.decimal, d.release, None, d.segment)
        self.delimiters = d
        self.charset = charset
        self._set_patterns()
        self._number = 1
        text = self._checked_text(piece, offset, charset.codec, d, number=1)
        tag, elements, repeats = split_segment(text, d)
        return Segment(tag, elements, 1, offset, repeats)

    def _set_patterns(self) -> None:
        d = self.delimiters
        service = d.component + d.element + d.segment + (d.release or "") + (d.repetition or "")
        self._bad_bytes, self._bad_text, self._allowed_bytes = _invalid_patterns(
            self.charset, service
        )

    # -- characters that do not fit -------------------------------------------------------

    def _checked_text(
        self, piece: bytes, offset: int, codec: str, d: Delimiters, number: int | None = None
    ) -> str:
        """Decode one segment, reporting bytes and characters the declared charset forbids."""
        number = self._number + 1 if number is None else number
        tag = piece[:3].decode("latin-1")
        try:
            text = piece.decode(codec)
        except UnicodeDecodeError as exc:
            text = piece.decode(codec, "replace")
            index = len(piece[: exc.start].decode(codec, "replace"))
            element, component = _position_in(text, index, d)
            self._report(
                INVALID_CHARACTER,
                f"Expected only {self._charset_name()} characters; found byte(s) "
                f"{piece[exc.start : exc.end].hex(' ')} that {codec} cannot decode.",
                segment=number,
                segment_tag=tag,
                element=element or None,
                component=component if element else None,
                offset=offset + exc.start,
            )
        if self.charset is UNDECLARED:
            return text
        found = [m for m in self._bad_text.finditer(text)]
        if found:
            self._report_characters(text, found, offset, number, tag, d)
        return text

    def _report_characters(
        self,
        text: str,
        found: list[re.Match[str]],
        offset: int,
        number: int,
        tag: str,
        d: Delimiters,
    ) -> None:
        chars = sorted({m.group() for m in found})
        printable_ascii = all(" " <= c <= "~" for c in chars)
        # Printable ASCII outside level A/B (lower case in UNOA, '@' in UNOB) is everyday
        # practice: a warning unless the partner agreed on a strict repertoire.
        severity = Severity.WARNING if printable_ascii and not self._strict else Severity.ERROR
        element, component = _position_in(text, found[0].start(), d)
        shown = ", ".join(repr(c) for c in chars[:8])
        self._report(
            INVALID_CHARACTER,
            f"Expected only {self._charset_name()} characters; found {shown}.",
            severity,
            segment=number,
            segment_tag=tag,
            element=element or None,
            component=component if element else None,
            offset=offset,
        )

    def _charset_name(self) -> str:
        cs = self.charset
        if cs.repertoire is LEVEL_A:
            return (
                f"{cs.syntax_id} (level A: upper-case letters, digits, space, .,-()/='+:?!\"%&*;<>)"
            )
        if cs.repertoire is LEVEL_B:
            return f"{cs.syntax_id} (level B: level A plus lower-case letters)"
        return f"{cs.syntax_id} ({cs.codec}) graphic"


def tokenize(data: bytes, **options: int | bool) -> list[Segment]:
    """All segments of an in-memory payload (tests, small files). Findings are dropped."""
    return list(Tokenizer.from_bytes(data, **options))
