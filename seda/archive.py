"""Zip helpers shared by the writer and the checks: chunk size and reproducible entry times."""

from __future__ import annotations

from datetime import UTC, datetime

CHUNK = 1 << 20  # 1 MiB: memory stays flat whatever the payload size

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_ZIP_LAST_YEAR = 2107


def zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    """Entry timestamp from the request date (UTC when aware), clamped to what zip can hold."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    if stamp < _ZIP_EPOCH:
        return _ZIP_EPOCH
    if moment.year > _ZIP_LAST_YEAR:
        return (_ZIP_LAST_YEAR, 12, 31, 23, 59, 58)
    return stamp
