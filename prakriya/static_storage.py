"""The static files storage: WhiteNoise's hashed, compressed storage with a brotli level that
collectstatic can afford on every start (`manage.py serve` and compose's web service run it).

Brotli's top level (11) takes about 9 s on plotly.js's 4.8 MB, which collectstatic compresses
twice (plain and hashed name), for 10 % fewer bytes than level 9's 0.4 s (1.11 MB against 1.23 MB;
gzip gives 1.47 MB). Figures and command: docs/benchmarks.md, "Page weight".
"""

from __future__ import annotations

from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

BROTLI_QUALITY = 9


class _Compressor(Compressor):
    @staticmethod
    def compress_brotli(data: bytes) -> bytes:
        import brotli

        return brotli.compress(data, quality=BROTLI_QUALITY)


class HashedCompressedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def create_compressor(self, **kwargs) -> Compressor:
        return _Compressor(**kwargs)
