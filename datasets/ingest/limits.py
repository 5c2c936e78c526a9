"""The bounds every upload is held to, read from settings at call time (so tests and operators
can change them) with the same defaults as prakriya/settings.py when Django is not configured."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024**2
GB = 1024**3


@dataclass(frozen=True, slots=True)
class Limits:
    upload_max_bytes: int = 512 * MB
    archive_max_members: int = 200_000
    archive_max_total_bytes: int = 2 * GB
    archive_max_ratio: int = 100
    max_columns: int = 10_000
    max_rows: int = 2_000_000
    image_max_pixels: int = 89_478_485
    # Below this many unpacked bytes the ratio is not judged: a small, very repetitive file
    # (a labels.csv) legitimately compresses far better than 100:1 and can do no harm.
    ratio_grace_bytes: int = 1 * MB

    @classmethod
    def from_settings(cls) -> Limits:
        from django.conf import settings

        if not settings.configured:
            return cls()
        default = cls()
        return cls(
            upload_max_bytes=getattr(settings, "PRAKRIYA_UPLOAD_MAX_BYTES", default.upload_max_bytes),
            archive_max_members=getattr(
                settings, "PRAKRIYA_ARCHIVE_MAX_MEMBERS", default.archive_max_members
            ),
            archive_max_total_bytes=getattr(
                settings, "PRAKRIYA_ARCHIVE_MAX_TOTAL_BYTES", default.archive_max_total_bytes
            ),
            archive_max_ratio=getattr(settings, "PRAKRIYA_ARCHIVE_MAX_RATIO", default.archive_max_ratio),
            max_columns=getattr(settings, "PRAKRIYA_UPLOAD_MAX_COLUMNS", default.max_columns),
            max_rows=getattr(settings, "PRAKRIYA_UPLOAD_MAX_ROWS", default.max_rows),
            image_max_pixels=getattr(settings, "PRAKRIYA_IMAGE_MAX_PIXELS", default.image_max_pixels),
        )


def human_bytes(n: int) -> str:
    for unit, size in (("GB", GB), ("MB", MB), ("KB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
