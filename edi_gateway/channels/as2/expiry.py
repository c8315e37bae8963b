"""Certificate expiry of the AS2 channel: ours and every partner's, checked when the
directory is built and then daily while the channel runs, so a certificate that crosses the
warning period on a long-running gateway is still reported. Each check logs the certificates
that expire within the warning period (or have expired) and sets a Prometheus gauge of days
to expiry for every certificate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from cryptography import x509

from edi_gateway import metrics
from edi_gateway.loops import Loop

if TYPE_CHECKING:
    from edi_gateway.channels.as2.partners import Directory

log = structlog.get_logger("edi_gateway.as2")

DAY = 86_400.0


def certificates(directory: Directory) -> list[tuple[str, x509.Certificate]]:
    """(owner, certificate): "us" for our key pairs, the partner id for theirs."""
    ours = [("us", key.certificate) for key in directory.station.keys]
    theirs = [
        (pid, cert) for pid, profile in directory.profiles.items() for cert in profile.certificates
    ]
    return [*ours, *theirs]


def check_expiry(directory: Directory, at: dt.datetime, within: dt.timedelta) -> None:
    """Set the days-to-expiry gauge of every certificate; log those expiring within `within`
    and those expired."""
    for owner, cert in certificates(directory):
        left = cert.not_valid_after_utc - at
        days = left.total_seconds() / DAY
        serial = f"{cert.serial_number:x}"
        metrics.AS2_CERTIFICATE_DAYS.labels(owner, serial).set(days)
        if left < within:
            log.warning(
                "as2.certificate_expiring" if left > dt.timedelta(0) else "as2.certificate_expired",
                owner=owner,
                subject=cert.subject.rfc4514_string(),
                serial=serial,
                not_after=cert.not_valid_after_utc.isoformat(),
                days_left=round(days, 1),
            )


class ExpiryWatch(Loop):
    """Repeats `check_expiry` every `poll_seconds` (a day). The first check is the one
    `build_directory` made, so this loop starts by waiting."""

    name = "as2-expiry-watch"

    def __init__(
        self,
        directory: Directory,
        clock: Callable[[], dt.datetime],
        within: dt.timedelta,
        poll_seconds: float = DAY,
    ) -> None:
        super().__init__()
        self.directory = directory
        self.clock = clock
        self.within = within
        self.poll_seconds = poll_seconds
        self._checked_at_build = True

    def step(self) -> bool:
        if self._checked_at_build:
            self._checked_at_build = False
        else:
            check_expiry(self.directory, self.clock(), self.within)
        return False
