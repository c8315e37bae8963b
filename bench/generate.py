"""Synthetic ORDERS D96A interchanges for benchmarks and tests.

`iter_orders_interchange` yields the interchange piece by piece (one UNB, then one message at
a time, then UNZ), so arbitrarily large interchanges can be streamed without being held in
memory; `generate_orders_interchange` joins it into bytes; `GeneratedStream` wraps the
generator as a read-only binary file object.

About one message in four carries values with released service characters (O?'Neill,
?+43, 50?:50, C:?\\, ...), so the tokenizer's slow path is exercised at a realistic rate.

Every value fits its D96A format (party names in C080 3036 an..35, free text in C108 4440
an..70, item descriptions in C273 7008 an..35): the messages validate without errors, so
benchmarks measure the gateway's normal path and need not rewrite anything.
"""

from __future__ import annotations

import io
import random
import re
import time
from collections.abc import Iterator

# fmt: off
WORDS = (
    "office", "pump", "cartridge", "municipal", "hospital", "syringe", "desk", "bracket",
    "lamp", "concrete", "washer", "salt", "school", "cable", "asphalt", "bolt", "hinge",
    "mask", "mouse", "printer", "paper", "gravel", "road", "steel", "valve", "monitor", "ink",
    "widget", "blue", "tender", "library", "station", "bridge", "filter",
)
# fmt: on
CITIES = ("Wien", "Linz", "Graz", "Bruxelles", "Lyon", "Utrecht", "Hamburg", "Porto", "Brno")
STREETS = ("Hauptstrasse", "Rue Royale", "Bahnhofplatz", "Via Roma", "Ringgade", "Kaistraat")
# Values that need the release character: apostrophe, plus, colon, question mark.
RELEASED = (
    "O?'Neill & Sons",
    "Tel. ?+43 1 2345",
    "Mix 50?:50",
    "Cost?? Ltd",
    "Deliver to gate 3?: ask for Mr. O?'Brien",
    "Ratio 1?:4 ?+ extra",
)
NAME_LENGTH = 35  # C080 3036 Party name, an..35
TEXT_LENGTH = 70  # C108 4440 Free text, an..70


def _unreleased(value: str) -> str:
    """The value as the receiver reads it (release characters removed)."""
    return re.sub(r"\?(.)", r"\1", value)


# Released values short enough to be a party name.
RELEASED_NAMES = tuple(v for v in RELEASED if len(_unreleased(v)) <= NAME_LENGTH)


def _gln(rng: random.Random) -> str:
    return str(rng.randrange(10**12, 10**13))


def _words(rng: random.Random, count: int, limit: int = TEXT_LENGTH) -> str:
    """`count` random words, as many as fit in `limit` characters."""
    text = ""
    for word in rng.choices(WORDS, k=count):
        longer = f"{text} {word}" if text else word
        if len(longer) > limit:
            break
        text = longer
    return text


def _message(rng: random.Random, number: int, lines: int, released: bool) -> list[str]:
    """One ORDERS message as its segments, UNH..UNT, without terminators."""
    ref = f"M{number:07d}"
    name = rng.choice(RELEASED_NAMES) if released else f"{_words(rng, 2).title()} GmbH"
    segments = [
        f"UNH+{ref}+ORDERS:D:96A:UN:EAN008",
        f"BGM+220+PO{number:08d}+9",
        f"DTM+137:2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}:102",
        f"DTM+2:2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}:102",
        f"FTX+AAI+++{_words(rng, 8)}:{_words(rng, 8)}",
        f"FTX+DEL+++{rng.choice(RELEASED) if released else _words(rng, 6)}",
        f"RFF+CT:TENDER-2026-{rng.randrange(10000):04d}",
    ]
    for role, party in (("BY", "Ministry of Works"), ("SU", name), ("DP", "Central Store")):
        city = rng.choice(CITIES)
        street = f"{rng.choice(STREETS)} {rng.randrange(1, 300)}"
        segments.append(
            f"NAD+{role}+{_gln(rng)}::9++{party}:{city}+{street}:Building {rng.randrange(1, 10)}"
            f"+{city}++{rng.randrange(10000, 99999)}+AT"
        )
    segments.append("CUX+2:EUR:9")
    for line in range(1, lines + 1):
        segments += [
            f"LIN+{line}++{_gln(rng)}:EN",
            f"PIA+1+{rng.randrange(10**6, 10**7)}:SA",
            f"IMD+F++:::{_words(rng, 3)}:{_words(rng, 2)}",
            f"QTY+21:{rng.randrange(1, 500)}:PCE",
            f"PRI+AAA:{rng.randrange(1, 100000) / 100:.2f}",
        ]
    segments += ["UNS+S", f"CNT+2:{lines}"]
    segments.append(f"UNT+{len(segments) + 1}+{ref}")
    return segments


def iter_orders_interchange(
    messages: int,
    *,
    seed: int = 2026,
    lines: int = 6,
    released_every: int = 4,
    newlines: bool = False,
    reference: str = "ICR0000001",
) -> Iterator[bytes]:
    """Yield a UNOC ORDERS D96A interchange of `messages` messages, one message per item.

    Each message is about 1.2 KB with the default `lines`, so 20,000 messages make ~24 MB.
    """
    rng = random.Random(seed)
    gap = "\n" if newlines else ""
    end = "'" + gap
    yield (
        f"UNA:+.? '{gap}"
        f"UNB+UNOC:3+9012345000004:14+9087654000001:14+261126:1200+{reference}++ORDERS{end}"
    ).encode("latin-1")
    for number in range(1, messages + 1):
        released = released_every > 0 and number % released_every == 0
        segments = _message(rng, number, lines, released)
        yield (end.join(segments) + end).encode("latin-1")
    yield f"UNZ+{messages}+{reference}{end}".encode("latin-1")


def generate_orders_interchange(messages: int, **options: int | bool | str) -> bytes:
    """The whole interchange as bytes (see `iter_orders_interchange` for the options)."""
    return b"".join(iter_orders_interchange(messages, **options))  # type: ignore[arg-type]


class GeneratedStream(io.RawIOBase):
    """A read-only binary stream over an iterator of byte pieces: each read fills the caller's
    buffer from as many pieces as it takes, holding at most one piece in between. The time
    spent producing the pieces is kept in `generating_seconds`."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        super().__init__()
        self._pieces = pieces
        self._current = b""
        self._position = 0
        self.bytes_read = 0
        self.generating_seconds = 0.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = 0
        while count < len(buffer):
            if self._position >= len(self._current):
                started = time.perf_counter()
                piece = next(self._pieces, None)
                self.generating_seconds += time.perf_counter() - started
                if piece is None:
                    break
                self._current, self._position = piece, 0
            take = min(len(buffer) - count, len(self._current) - self._position)
            buffer[count : count + take] = self._current[self._position : self._position + take]
            self._position += take
            count += take
        self.bytes_read += count
        return count


def stream_orders_interchange(size_mb: float, **options: int | bool | str) -> GeneratedStream:
    """A stream of about `size_mb` megabytes (10^6 bytes) of ORDERS, generated on the fly."""
    sample = generate_orders_interchange(20, **options)
    per_message = len(sample) / 20
    messages = max(1, round(size_mb * 1_000_000 / per_message))
    pieces = iter_orders_interchange(messages, **options)  # type: ignore[arg-type]
    return GeneratedStream(pieces)
