"""The data layer's errors and warning, in one place; each message names the file and the fix."""

from __future__ import annotations

__all__ = ["DataError", "DownloadError", "SampleWarning"]


class DataError(Exception):
    """A data problem a user can fix; the message alone says which file, what and what to do."""


class DownloadError(DataError):
    """No mirror delivered a verified copy (network, HTTP, interrupted or checksum failures).

    A DataError that is not a DownloadError (e.g. an unwritable cache) is never answered with
    the offline sample: only a failed download is.
    """


class SampleWarning(UserWarning):
    """Warned when the 5,000-digit sample replaces the full MNIST without being asked for."""
