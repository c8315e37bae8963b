"""The streaming EDIFACT tokenizer: against pydifact 0.2.3 on the corpus and on random
segments, across every chunk size, and on the character sets and odd inputs it must survive."""

from __future__ import annotations

import dataclasses
import io
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydifact.control import Characters
from pydifact.exceptions import EDISyntaxError
from pydifact.parser import Parser
from pydifact.segments import Segment as PySegment
from pydifact.serializer import Serializer

from bench.generate import generate_orders_interchange, stream_orders_interchange
from edi_gateway.formats.edifact.segments import Delimiters, Segment
from edi_gateway.formats.edifact.tokenizer import (
    Tokenizer,
    charset_for,
    split_by_scanning,
    tokenize,
)
from edi_gateway.model import Severity
from tests.support import SHARED

CORPUS = SHARED / "corpus" / "edifact"
ALL_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())
# The ISO 20625 XML twins of the EN 16931 invoices and INDEX.tsv are not EDIFACT.
EDIFACT_FILES = [p for p in ALL_FILES if p.suffix.lower() not in (".xml", ".tsv")]
OTHER_FILES = [p for p in ALL_FILES if p not in EDIFACT_FILES]

# Syntax 4 packages: UNO is followed by raw object bytes (here base64 text glued to UNP).
# pydifact tokenizes the object as if it were segments and raises on the "tag" it finds.
WITH_PACKAGES = {"EDIFACT_EXAMPLE2.TXT", "EDIFACT_EXAMPLE5.TXT"}
# No UNB at all: pydifact returns the bare segments; we report that there is no interchange.
WITHOUT_INTERCHANGE = {"INVOIC_D96A_input.edi"}

Normal = tuple[str, list[Any]]


def _rel(path: Path) -> str:
    return str(path.relative_to(CORPUS))


def _normal_element(components: list[str]) -> Any:
    """pydifact's shape: trailing empty components dropped, one component as a plain str."""
    comps = list(components)
    while comps and comps[-1] == "":
        comps.pop()
    if not comps:
        return ""
    return comps[0] if len(comps) == 1 else comps


def ours_normal(segment: Segment, tok: Tokenizer) -> Normal:
    elements = []
    for index, element in enumerate(segment.elements):
        if segment.repeats and index in segment.repeats:
            # pydifact has no repetition separator: it sees one element with '*' inside.
            rep, comp = tok.delimiters.repetition or "*", tok.delimiters.component
            joined = rep.join(comp.join(o) for o in segment.repeats[index])
            element = joined.split(comp)
        elements.append(_normal_element(element))
    return segment.tag, elements


def theirs_normal(segment: PySegment) -> Normal:
    elements = [_normal_element(e) if isinstance(e, list) else e for e in segment.elements]
    return segment.tag, elements


def pydifact_segments(text: str) -> list[Normal]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [theirs_normal(s) for s in Parser().parse(text) if s.tag != "UNA"]


def codec_of(data: bytes) -> str:
    match = re.search(rb"UNB\+(\w{4})", data)
    charset = charset_for(match.group(1).decode()) if match else None
    return charset.codec if charset else "latin-1"


def run(data: bytes, **options: Any) -> tuple[list[Segment], Tokenizer]:
    tok = Tokenizer(io.BytesIO(data), **options)
    return list(tok), tok


def shape(segments: list[Segment]) -> list[tuple[str, list[list[str]], Any, int, int]]:
    return [(s.tag, s.elements, s.repeats, s.number, s.offset) for s in segments]


def test_the_corpus_is_all_there() -> None:
    assert len(ALL_FILES) == 61
    assert len(EDIFACT_FILES) == 51


# -- (a) differential: every corpus file, ours against pydifact ------------------------------


@pytest.mark.parametrize("path", EDIFACT_FILES, ids=_rel)
def test_corpus_file_matches_pydifact(path: Path) -> None:
    data = path.read_bytes()
    segments, tok = run(data)
    text = data.decode(codec_of(data), "replace")

    if path.name in WITHOUT_INTERCHANGE:
        assert segments == []
        assert [f.code for f in tok.findings] == ["33", "13"]
        assert len(pydifact_segments(text)) == 185  # pydifact takes a headerless file as is
        return

    if path.name in WITH_PACKAGES:
        with pytest.raises(EDISyntaxError):
            pydifact_segments(text)
        # Cut the object out and pydifact agrees with us on every segment.
        uno = next(s for s in segments if s.tag == "UNO")
        assert uno.data is not None and len(uno.data) == int(uno.element(4))
        start = data.index(b"'", uno.offset) + 1
        text = (data[:start] + data[start + len(uno.data) :]).decode("utf-8")

    ours = [ours_normal(s, tok) for s in segments]
    assert ours == pydifact_segments(text)
    # Offsets are byte offsets into the payload; numbers restart at every UNB.
    for segment in segments:
        assert data[segment.offset : segment.offset + 3].decode("latin-1") == segment.tag
        if segment.tag == "UNB":
            assert segment.number == 1
    # The same result whatever the chunk size.
    assert shape(run(data, chunk_size=7)[0]) == shape(segments)


@pytest.mark.parametrize("path", OTHER_FILES, ids=_rel)
def test_non_edifact_files_give_a_finding_not_a_crash(path: Path) -> None:
    segments, tok = run(path.read_bytes())
    assert segments == []
    assert tok.findings[-1].code == "13"
    assert tok.findings[-1].severity is Severity.FATAL


def test_pydifact_drops_the_first_interchange_when_a_second_starts_with_una() -> None:
    first = (CORPUS / "pydifact" / "invoice1.edi").read_bytes().rstrip()  # no UNA
    second = (CORPUS / "pydifact" / "APERAK_D96A_v3_accepted.edi").read_bytes()  # with UNA
    segments, _ = run(first + second)
    assert [s.tag for s in segments].count("UNB") == 2
    assert len(segments) == 26 + 9
    theirs = pydifact_segments((first + second).decode("latin-1"))
    assert len(theirs) == 9  # pydifact: everything before "'UNA" is gone, 26 segments lost
    assert theirs == [ours_normal(s, Tokenizer(io.BytesIO(b""))) for s in segments[26:]]


def test_pydifact_rejects_a_second_una_we_read_both_interchanges() -> None:
    first = (CORPUS / "pydifact" / "APERAK_D96A_v3_accepted.edi").read_bytes()
    second = (CORPUS / "pydifact" / "APERAK_D96A_v4_rejected.edi").read_bytes()
    with pytest.raises(EDISyntaxError, match="multiple UNA"):
        pydifact_segments((first + second).decode("latin-1"))
    segments, _ = run(first + second)
    assert shape(segments[:9]) == shape(run(first)[0])
    assert [(s.tag, s.elements, s.number) for s in segments[9:]] == [
        (s.tag, s.elements, s.number) for s in run(second)[0]
    ]


def test_pydifact_drops_a_trailing_empty_component_we_keep_it() -> None:
    data = (CORPUS / "pydifact" / "invoice_with_colon_at_end.edi").read_bytes()
    segments, _ = run(data)
    rff = next(s for s in segments if s.tag == "RFF")
    assert rff.elements == [["VA", "382324067", ""]]
    theirs = pydifact_segments(data.decode("latin-1"))
    assert theirs[5] == ("RFF", [["VA", "382324067"]])


def test_pydifact_has_no_repetition_separator_we_split_repeats() -> None:
    # Syntax 4 without UNA: the default repetition separator is '*'.
    data = (CORPUS / "smooks" / "ORDERS_D03B_Interchange.edi").read_bytes()
    segments, tok = run(data)
    assert tok.delimiters.repetition == "*"
    com = next(s for s in segments if s.tag == "COM")
    assert com.elements == [["s11", "AA"]]
    assert com.repeats == {0: [["s11", "AA"], ["s21", "AA"], ["s31", "AA"]]}
    theirs = dict(pydifact_segments(data.decode("latin-1")))
    assert theirs["COM"] == [["s11", "AA*s21", "AA*s31", "AA"]]


# -- (b) properties: pydifact's serializer in, the same segments out -------------------------

SEPARATOR_SETS = ["UNA:+.? '", "UNA:+,? '", "UNA|^.\\ ~", "UNA;#.! \n", "UNA:+.?*'"]
VALUE_CHARS = st.sampled_from(list("AZaz09 .,-/()=*'+:?|^~\\!;#\nÄéß€"))
values = st.text(VALUE_CHARS, max_size=12)
elements = st.one_of(values, st.lists(values, min_size=2, max_size=4))
segment_lists = st.lists(
    st.tuples(
        st.sampled_from(["BGM", "FTX", "NAD", "LIN", "QTY", "RFF"]), st.lists(elements, max_size=6)
    ),
    min_size=1,
    max_size=8,
)


def _expected(element: Any) -> list[str]:
    if isinstance(element, str):
        return [element]
    comps = list(element)
    while comps and comps[-1] == "":  # the serializer drops trailing empty components
        comps.pop()
    return comps or [""]


def _serialize(una: str, generated: list[tuple[str, list[Any]]], break_lines: bool) -> bytes:
    chars = Characters.from_str(una)
    unb = PySegment("UNB", ["UNOW", "3"], "SENDER", "RECIPIENT", ["261126", "1200"], "REF1")
    body = [
        PySegment(tag, *elements) if elements else PySegment(tag, "") for tag, elements in generated
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = Serializer(chars).serialize([unb, *body], break_lines=break_lines)
    return text.encode("utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(una=st.sampled_from(SEPARATOR_SETS), generated=segment_lists, break_lines=st.booleans())
def test_pydifact_serialized_segments_come_back_unchanged(
    una: str, generated: list[tuple[str, list[Any]]], break_lines: bool
) -> None:
    data = _serialize(una, generated, break_lines)
    segments, tok = run(data)
    assert [s.tag for s in segments] == ["UNB"] + [tag for tag, _ in generated]
    expected = [[_expected(e) for e in els] if els else [[""]] for _, els in generated]
    assert [s.elements for s in segments[1:]] == expected
    assert [s.number for s in segments] == list(range(1, len(segments) + 1))
    assert not [f for f in tok.findings if f.code != "21"]


@settings(max_examples=200, deadline=None)
@given(
    una=st.sampled_from(SEPARATOR_SETS),
    generated=segment_lists,
    chunk_size=st.integers(min_value=1, max_value=40),
)
def test_any_chunk_size_gives_the_same_segments(
    una: str, generated: list[tuple[str, list[Any]]], chunk_size: int
) -> None:
    data = _serialize(una, generated, break_lines=False)
    assert shape(run(data, chunk_size=chunk_size)[0]) == shape(run(data)[0])


def test_every_chunk_size_on_release_heavy_data() -> None:
    data = (
        b"UNA:+.? 'UNB+UNOC:3+S+R+261126:1200+1'UNH+1+ORDERS:D:96A:UN'"
        b"FTX+AAI+++O?'Neill?:?+??'NAD+BY+X?'+??+???'+Y'FTX+A+?+?:?'??'"
        b"UNT+5+1'UNZ+1+1'"
    )
    reference = shape(run(data)[0])
    assert reference[2][1] == [["AAI"], [""], [""], ["O'Neill:+?"]]
    assert reference[3][1] == [["BY"], ["X'"], ["?"], ["?'"], ["Y"]]
    assert reference[4][1] == [["A"], ["+:'?"]]
    for size in range(1, len(data) + 2):
        assert shape(run(data, chunk_size=size)[0]) == reference, size


def reference_segments(data: bytes) -> list[tuple[str, list[list[str]]]]:
    """A deliberately naive reader (one character at a time) for UNA:+.? ' and Latin-1."""
    text = data.decode("latin-1")[len("UNA:+.? '") :]
    segments, current, chars = [], [], iter(text)
    for ch in chars:
        if ch == "?":
            current += [ch, next(chars)]
        elif ch == "'":
            raw = "".join(current).lstrip(" \r\n")
            tag, elements, _ = split_by_scanning(raw, Delimiters())
            segments.append((tag, elements))
            current = []
        else:
            current.append(ch)
    return segments


@pytest.mark.parametrize("newlines", [False, True])
@pytest.mark.parametrize("chunk_size", [997, 64 * 1024])
def test_a_large_interchange_matches_a_naive_reader(newlines: bool, chunk_size: int) -> None:
    data = generate_orders_interchange(400, newlines=newlines)  # ~0.5 MB: many fast regions
    segments, tok = run(data, chunk_size=chunk_size)
    assert [(s.tag, s.elements) for s in segments] == reference_segments(data)
    assert [s.number for s in segments] == list(range(1, len(segments) + 1))
    assert all(data[s.offset : s.offset + 3] == s.tag.encode() for s in segments)
    assert tok.findings == []


class TrickleStream(io.RawIOBase):
    """Returns at most 3 bytes per read, as a slow socket would."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        piece = self._data[self._pos : self._pos + min(3, size if size > 0 else 3)]
        self._pos += len(piece)
        return piece


def test_short_reads_are_fine() -> None:
    data = generate_orders_interchange(5)
    assert shape(list(Tokenizer(TrickleStream(data)))) == shape(run(data)[0])


# -- separators, terminators, interchanges ---------------------------------------------------


def test_released_release_character_before_the_terminator() -> None:
    segments, _ = run(b"UNB+UNOC:3+S+R+261126:1200+1'FTX+AAA+C??'UNS+S'")
    assert segments[1].elements == [["AAA"], ["C?"]]
    assert segments[2].tag == "UNS"


def test_released_terminator_followed_by_service_like_text() -> None:
    data = b"UNB+UNOC:3+S+R+261126:1200+1'FTX+AAI+++X?'UNBELIEVABLE?'UNZ?+1'UNZ+0+1'"
    for size in (3, 17, 64 * 1024):
        segments, tok = run(data, chunk_size=size)
        assert [s.tag for s in segments] == ["UNB", "FTX", "UNZ"]
        assert segments[1].elements[3] == ["X'UNBELIEVABLE'UNZ+1"]
        assert tok.findings == []


def test_terminators_followed_by_whitespace_or_not() -> None:
    compact = b"UNB+UNOC:3+S+R+261126:1200+1'UNH+1+X:D:96A:UN'UNT+2+1'UNZ+1+1'"
    spaced = compact.replace(b"'", b"'\r\n").replace(b"UNT", b" \tUNT")
    assert [(s.tag, s.elements) for s in run(spaced)[0]] == [
        (s.tag, s.elements) for s in run(compact)[0]
    ]


def test_una_with_any_separators_and_a_new_una_per_interchange() -> None:
    data = (
        b"UNA:+.? 'UNB+UNOC:3+S+R+261126:1200+1'UNH+1+X:D:96A:UN'FTX+A+b?+c:d'UNT+3+1'UNZ+1+1'"
        b"UNA|^,\\ ~UNB^UNOC|3^S^R^261126|1200^2~UNH^1^X|D|96A|UN~FTX^A^b+c\\^|d~UNT^3^1~UNZ^1^2~"
    )
    tok = Tokenizer(io.BytesIO(data))
    seen = []
    for segment in tok:
        if segment.tag == "UNB":
            seen.append(tok.delimiters)
        if segment.tag == "FTX":
            assert segment.elements == [["A"], ["b+c" if len(seen) == 1 else "b+c^", "d"]]
    assert [d.una() for d in seen] == ["UNA:+.? '", "UNA|^,\\ ~"]
    assert tok.interchanges == 2


def test_interchange_without_una_after_one_with_una_uses_the_defaults() -> None:
    data = b"UNA|^.? ~UNB^UNOC|3^S^R^261126|1200^1~UNZ^0^1~UNB+UNOC:3+S+R+261126:1200+2'UNZ+0+2'"
    segments, tok = run(data)
    assert [s.tag for s in segments] == ["UNB", "UNZ", "UNB", "UNZ"]
    assert segments[2].elements[4] == ["2"]
    assert tok.delimiters.una() == "UNA:+.? '"


def test_una_position_five_is_a_repetition_separator_only_in_syntax_4() -> None:
    v3 = b"UNA:+.?*'UNB+UNOC:3+S+R+261126:1200+1'FTX+A*B'"
    v4 = b"UNA:+.?*'UNB+UNOC:4+S+R+20261126:1200+1'FTX+A*B'"
    assert run(v3)[0][1].elements == [["A*B"]]
    assert run(v4)[0][1].repeats == {0: [["A"], ["B"]]}


def test_data_before_the_first_una_is_skipped_with_a_warning() -> None:
    data = (CORPUS / "pydifact" / "sage_coala.ped").read_bytes()
    tok = Tokenizer(io.BytesIO(data))
    first = next(iter(tok))
    assert (first.tag, first.number) == ("UNB", 1)
    # The warning is already there when the first segment arrives.
    assert [f.code for f in tok.findings] == ["33"]
    assert tok.findings[0].severity is Severity.WARNING
    assert tok.findings[0].location.offset == 0
    assert "362 byte(s)" in tok.findings[0].text
    assert tok.charset.syntax_id == "UNOL" and tok.delimiters.decimal == ","


def test_a_last_segment_without_terminator_is_kept_and_reported() -> None:
    segments, tok = run(b"UNB+UNOC:3+S+R+261126:1200+1'UNZ+0+1\n")
    assert segments[-1].elements == [["0"], ["1"]]
    assert [(f.code, f.location.segment_tag) for f in tok.findings] == [("13", "UNZ")]


def test_syntax_4_package_object_is_read_as_bytes() -> None:
    obj = b"%PDF'+:?binary\x00\xff"
    data = (
        b"UNA:+.?*'UNB+UNOW:4+S+R+20261126:1200+1'UNO+P1+1:Doc1+13:application/pdf+"
        + str(len(obj)).encode()
        + b"'"
        + obj
        + b"UNP+"
        + str(len(obj)).encode()
        + b"+P1'UNZ+1+1'"
    )
    for size in (1, 5, 64 * 1024):
        segments, tok = run(data, chunk_size=size)
        assert [s.tag for s in segments] == ["UNB", "UNO", "UNP", "UNZ"]
        assert segments[1].data == obj
        assert tok.findings == []


def test_segments_are_produced_lazily_from_a_large_stream() -> None:
    stream = stream_orders_interchange(50)  # 50 MB, generated on demand
    tok = Tokenizer(stream, chunk_size=64 * 1024)
    segments = iter(tok)
    for _ in range(1000):
        next(segments)
    assert stream.bytes_read <= 128 * 1024


# -- character sets --------------------------------------------------------------------------


def _interchange(syntax: str, body: bytes) -> bytes:
    return b"UNB+" + syntax.encode() + b":3+S+R+261126:1200+1'" + body + b"'UNZ+0+1'"


def test_unoa_lower_case_is_a_warning_or_an_error_when_strict() -> None:
    data = _interchange("UNOA", b"FTX+AAI+++Lower case")
    _, tok = run(data)
    assert [(f.code, f.severity, f.location.segment, f.location.element) for f in tok.findings] == [
        ("21", Severity.WARNING, 2, 4)
    ]
    _, strict = run(data, strict_repertoire=True)
    assert strict.findings[0].severity is Severity.ERROR


def test_unob_allows_lower_case_but_not_at_sign() -> None:
    _, tok = run(_interchange("UNOB", b"FTX+AAI+++lower case"))
    assert tok.findings == []
    _, tok = run(_interchange("UNOB", b"COM+a@b.example:EM"))
    assert [f.code for f in tok.findings] == ["21"] and "'@'" in tok.findings[0].text


def test_unoa_byte_outside_ascii_is_an_error_with_its_place() -> None:
    segments, tok = run(_interchange("UNOA", b"NAD+BY+++CAF\xc9:X"))
    (finding,) = tok.findings
    assert (finding.code, finding.severity) == ("21", Severity.ERROR)
    assert (finding.location.segment, finding.location.segment_tag) == (2, "NAD")
    assert (finding.location.element, finding.location.component) == (4, 1)
    assert finding.location.offset == len(b"UNB+UNOA:3+S+R+261126:1200+1'NAD+BY+++CAF")
    assert segments[1].elements[3] == ["CAF\ufffd", "X"]


def test_unoc_is_latin_1_and_c1_controls_are_invalid() -> None:
    segments, tok = run(_interchange("UNOC", b"FTX+AAI+++Stra\xdfe"))
    assert segments[1].elements[3] == ["Straße"] and tok.findings == []
    _, tok = run(_interchange("UNOC", b"FTX+AAI+++bad\x85"))
    assert [f.code for f in tok.findings] == ["21"]


def test_unod_is_iso_8859_2() -> None:
    segments, tok = run(_interchange("UNOD", b"FTX+AAI+++\xa1\xb3\xf3d\xbc"))
    assert segments[1].elements[3] == ["Ąłódź"] and tok.findings == []


def test_unow_is_utf_8_and_invalid_sequences_are_reported() -> None:
    segments, tok = run(_interchange("UNOW", "FTX+AAI+++Grüße €".encode()))
    assert segments[1].elements[3] == ["Grüße €"] and tok.findings == []
    segments, tok = run(_interchange("UNOW", b"FTX+AAI+++ok\xff\xfeok"))
    assert [f.code for f in tok.findings] == ["21"]
    assert "ff" in tok.findings[0].text
    assert segments[1].elements[3] == ["ok\ufffd\ufffdok"]


def test_utf_8_offsets_are_byte_offsets() -> None:
    data = _interchange("UNOY", "FTX+AAI+++ÄÖÜ'RFF+ON:1".encode())
    segments, _ = run(data)
    rff = next(s for s in segments if s.tag == "RFF")
    assert data[rff.offset : rff.offset + 3] == b"RFF"


def test_unknown_syntax_identifier_is_reported_and_read_as_latin_1() -> None:
    segments, tok = run(_interchange("ABCD", b"FTX+AAI+++\xe9"))
    assert [(f.code, f.severity) for f in tok.findings] == [("2", Severity.FATAL)]
    assert segments[1].elements[3] == ["é"]


def test_findings_are_bounded() -> None:
    body = b"'".join(b"FTX+AAI+++lower" for _ in range(3000))
    _, tok = run(_interchange("UNOA", body), max_findings=50)
    assert len(tok.findings) == 51
    assert tok.findings[-1].code == "18"


def test_tokenize_helper_and_empty_input() -> None:
    assert tokenize(b"") == []
    assert [s.tag for s in tokenize(b"UNB+UNOC:3+S+R+261126:1200+1'UNZ+0+1'")] == ["UNB", "UNZ"]


# -- the fast loop ---------------------------------------------------------------------------

FAST_VALUE_CHARS = st.sampled_from(list("AZaz09 .,-/()?'+:é"))
fast_segments = st.lists(
    st.tuples(
        st.sampled_from(["BGM", "FTX", "NAD", "LIN", "QTY"]),
        st.lists(st.lists(st.text(FAST_VALUE_CHARS, max_size=8), min_size=1, max_size=3)),
        st.sampled_from(["", "", "\r\n", "\n", " "]),
    ),
    min_size=1,
    max_size=30,
)


def _released(value: str) -> str:
    return re.sub(r"([?'+:])", r"?\1", value)


@settings(max_examples=300, deadline=None)
@given(generated=fast_segments, chunk_size=st.sampled_from([1, 2, 5, 13, 64, 64 * 1024]))
def test_the_fast_loop_matches_a_character_reader(
    generated: list[tuple[str, list[list[str]], str]], chunk_size: int
) -> None:
    """Release characters anywhere (released terminators, runs of them), whitespace or not
    after terminators, Latin-1: the region-at-once loop agrees with the naive reader."""
    body = "".join(
        gap + tag + "".join("+" + ":".join(map(_released, e)) for e in els) + "'"
        for tag, els, gap in generated
    )
    text = f"UNA:+.? 'UNB+UNOC:3+S+R+261126:1200+1'{body}UNZ+{len(generated)}+1'"
    data = text.encode("latin-1")
    segments, tok = run(data, chunk_size=chunk_size)
    assert [(s.tag, s.elements) for s in segments] == reference_segments(data)
    assert [(tag, els) for tag, els, _ in generated] == [
        (s.tag, s.elements) for s in segments[1:-1]
    ]
    assert [s.number for s in segments] == list(range(1, len(segments) + 1))
    assert all(data[s.offset : s.offset + 3] == s.tag.encode() for s in segments)
    assert tok.findings == []


def test_fast_loop_segments_are_whole_segment_values() -> None:
    """The fast loop fills the slots of `Segment` itself: every field is set, and the values
    equal segments built the ordinary way."""
    segments, _ = run(generate_orders_interchange(50))
    assert len(segments) > 2000
    for s in segments:
        assert dataclasses.astuple(s) == (s.tag, s.elements, s.number, s.offset, None, None)
        assert s == Segment(s.tag, s.elements, s.number, s.offset)


def test_an_empty_segment_is_skipped_wherever_it_is() -> None:
    plain = b"UNB+UNOC:3+S+R+261126:1200+1'UNH+1+ORDERS:D:96A:UN'BGM+220+1'UNT+3+1'UNZ+1+1'"
    for doubled in (b"+1'UNH", b"UN'BGM", b"+1'UNT", b"+1'UNZ"):
        assert doubled in plain
        data = plain.replace(doubled, doubled.replace(b"'", b"''"), 1)
        for size in (5, 64 * 1024):
            segments, tok = run(data, chunk_size=size)
            assert [(s.tag, s.elements, s.number) for s in segments] == [
                (s.tag, s.elements, s.number) for s in run(plain)[0]
            ], (doubled, size)
            assert tok.findings == []
