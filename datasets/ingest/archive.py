"""Reading a ZIP upload without trusting it.

Nothing here ever uses a member's name as a path on disk (callers name files by content hash),
and ZipFile.extractall is never used. Before zipfile parses the central directory its entries are
counted with a bounded walk; then every member is checked (path, type, encryption, compression
method, overlap with its neighbours — the trick behind non-recursive zip bombs) and the sizes the
headers claim are bounded. While a member is inflated, the bytes produced and the compressed
bytes consumed are counted chunk by chunk against the total, the per-member ratio and the
whole-archive ratio, and at the end its size and CRC must match the header: a header that lies
about sizes buys nothing.
"""

from __future__ import annotations

import hashlib
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from datasets.ingest.limits import Limits, human_bytes
from datasets.ingest.records import UploadRejected

CHUNK = 1024 * 1024

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIG = b"PK\x03\x04"

_ALLOWED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA", 9: "Deflate64", 93: "Zstandard"}
_FILE_TYPES = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
}
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Member:
    path: str  # normalised: "/"-separated, no "." or empty parts
    info: zipfile.ZipInfo
    data_start: int  # offset of the compressed data in the archive


class SafeArchive:
    """A checked ZIP archive. Use as a context manager; read members with copy().

    zipfile only parses the central directory; members are inflated here, from the raw bytes
    between their local header and the next member, so both sides of the ratio are real counts:
    compressed bytes consumed and bytes produced."""

    def __init__(self, path: Path, name: str, limits: Limits):
        self.name = name
        self.limits = limits
        self.archive_bytes = path.stat().st_size
        self.total_out = 0
        cd_start, cd_size = _central_directory(path, name)
        _count_entries(path, name, cd_start, cd_size, limits.archive_max_members)
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
        except MemoryError:
            raise
        except Exception as exc:  # zipfile reports a malformed directory with many exception types
            raise UploadRejected(f"{name} is not a valid ZIP archive ({exc})") from None
        self.fh = open(path, "rb")  # closed in __exit__, or below on failure
        try:
            self.members = self._check_members(infos, cd_start)
        except BaseException:
            self.fh.close()
            raise

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()

    def _check_members(self, infos: list[zipfile.ZipInfo], cd_start: int) -> list[Member]:
        if len(infos) > self.limits.archive_max_members:
            raise UploadRejected(
                f"{self.name} has more than {self.limits.archive_max_members} members (the limit)"
            )
        data_starts = _data_starts(self.fh, self.name, infos, cd_start)
        members: list[Member] = []
        seen: set[str] = set()
        for info in infos:
            member_path = _check_member(self.name, info)
            if member_path is None:
                continue  # a directory entry
            if member_path in seen:
                raise UploadRejected(f'{self.name}: member "{member_path}" appears twice in the archive')
            seen.add(member_path)
            members.append(Member(member_path, info, data_starts[info.header_offset]))
        self._check_claimed_sizes(members)
        return members

    def _check_claimed_sizes(self, members: list[Member]) -> None:
        # An honest bomb is turned away before a byte is inflated; a lying one is caught in copy().
        lim = self.limits
        claimed_total = 0
        for m in members:
            claimed_total += m.info.file_size
            if m.info.file_size > lim.ratio_grace_bytes and m.info.file_size > lim.archive_max_ratio * max(
                m.info.compress_size, 1
            ):
                raise self._ratio_error(m.path)
        if claimed_total > lim.archive_max_total_bytes:
            raise self._total_error()
        if (
            claimed_total > lim.ratio_grace_bytes
            and claimed_total > lim.archive_max_ratio * self.archive_bytes
        ):
            raise self._ratio_error(None)

    def _ratio_error(self, member_path: str | None) -> UploadRejected:
        what = f'{self.name}: member "{member_path}"' if member_path else self.name
        return UploadRejected(
            f"{what} is compressed more than {self.limits.archive_max_ratio} to 1, "
            "which only a zip bomb does; it is not accepted"
        )

    def _total_error(self) -> UploadRejected:
        return UploadRejected(
            f"{self.name} unpacks to more than {human_bytes(self.limits.archive_max_total_bytes)} (the limit)"
        )

    def _damaged(self, member: Member, why: str) -> UploadRejected:
        return UploadRejected(f'{self.name} is damaged: member "{member.path}" {why}')

    def copy(self, member: Member, out_path: Path) -> tuple[str, int]:
        """Write the member's bytes to out_path as they come; (sha256 hex, size)."""
        digest = hashlib.sha256()
        size = 0
        with open(out_path, "wb") as out:
            for chunk in self._stream(member):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        return digest.hexdigest(), size

    def read(self, member: Member) -> bytes:
        """The member's bytes in memory. Output never exceeds the size the header claims, so this
        is for members whose claimed size is small."""
        return b"".join(self._stream(member))

    def _stream(self, member: Member) -> Iterator[bytes]:
        info = member.info
        crc = 0
        size = 0
        for chunk, consumed in self._inflate(member):
            size += len(chunk)
            self.total_out += len(chunk)
            self._check_running(member, size, consumed)
            if size > info.file_size:
                raise self._damaged(member, f"holds more than the {info.file_size} bytes its header says")
            crc = zlib.crc32(chunk, crc)
            yield chunk
        if size != info.file_size:
            raise self._damaged(member, f"holds {size} bytes, not the {info.file_size} its header says")
        if crc != info.CRC:
            raise self._damaged(member, "does not match its checksum")

    def _check_running(self, member: Member, size: int, consumed: int) -> None:
        lim = self.limits
        if self.total_out > lim.archive_max_total_bytes:
            raise self._total_error()
        if size > lim.ratio_grace_bytes and size > lim.archive_max_ratio * max(consumed, 1):
            raise self._ratio_error(member.path)
        if (
            self.total_out > lim.ratio_grace_bytes
            and self.total_out > lim.archive_max_ratio * self.archive_bytes
        ):
            raise self._ratio_error(None)

    def _inflate(self, member: Member) -> Iterator[tuple[bytes, int]]:
        """(output chunk of at most CHUNK bytes, compressed bytes consumed so far)."""
        info = member.info
        self.fh.seek(member.data_start)
        remaining = info.compress_size
        if info.compress_type == zipfile.ZIP_STORED:
            while remaining:
                chunk = self.fh.read(min(CHUNK, remaining))
                if not chunk:
                    raise self._damaged(member, "ends early")
                remaining -= len(chunk)
                yield chunk, info.compress_size - remaining
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        tail = b""
        while not inflater.eof:
            if tail:
                data = tail
            elif remaining:
                data = self.fh.read(min(CHUNK, remaining))
                if not data:
                    raise self._damaged(member, "ends early")
                remaining -= len(data)
            else:
                data = b""
            try:
                chunk = inflater.decompress(data, CHUNK)
            except zlib.error as exc:
                raise self._damaged(member, f"could not be inflated ({exc})") from None
            tail = inflater.unconsumed_tail
            if not chunk and not data:
                raise self._damaged(member, "ends early")
            if chunk:
                yield chunk, info.compress_size - remaining - len(tail)


def _check_member(archive: str, info: zipfile.ZipInfo) -> str | None:
    """The member's normalised path, None for a directory; UploadRejected for anything unsafe."""
    raw = info.filename
    shown = _CONTROL.sub("?", raw)
    if _CONTROL.search(raw):
        raise UploadRejected(f'{archive}: member "{shown}" has control characters in its name')
    if "\\" in raw:
        raise UploadRejected(f'{archive}: member "{shown}" uses backslashes in its path')
    if raw.startswith("/"):
        raise UploadRejected(f'{archive}: member "{shown}" has an absolute path')
    if _DRIVE.match(raw):
        raise UploadRejected(f'{archive}: member "{shown}" has a drive letter in its path')
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UploadRejected(f'{archive}: member "{shown}" points outside the archive (".." in its path)')
    if info.flag_bits & 0x41:  # bit 0: encrypted; bit 6: strong encryption
        raise UploadRejected(
            f'{archive}: member "{shown}" is encrypted; upload an archive without a password'
        )
    mode = info.external_attr >> 16
    file_type = stat.S_IFMT(mode)
    if file_type in _FILE_TYPES:
        raise UploadRejected(
            f'{archive}: member "{shown}" is {_FILE_TYPES[file_type]}; only regular files are accepted'
        )
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UploadRejected(f'{archive}: member "{shown}" is not a regular file')
    is_dir = raw.endswith("/") or file_type == stat.S_IFDIR
    if is_dir:
        if info.file_size:
            raise UploadRejected(f'{archive}: member "{shown}" is a directory with content')
        return None
    if not parts:
        raise UploadRejected(f"{archive}: a member has an empty name")
    if info.compress_type not in _ALLOWED_METHODS:
        method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise UploadRejected(
            f'{archive}: member "{shown}" uses {method} compression; only stored and deflate are accepted'
        )
    return "/".join(parts)


def _central_directory(path: Path, name: str) -> tuple[int, int]:
    """(start, size) of the central directory, from the end-of-central-directory record."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        tail_len = min(size, _EOCD.size + 65535)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
        pos = tail.rfind(_EOCD_SIG)
        if pos < 0 or pos + _EOCD.size > len(tail):
            raise UploadRejected(f"{name} is not a valid ZIP archive (no end-of-archive record)")
        eocd_at = size - tail_len + pos
        fields = _EOCD.unpack(tail[pos : pos + _EOCD.size])
        entries, cd_size, cd_offset = fields[4], fields[5], fields[6]
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
            if eocd_at < _ZIP64_LOCATOR.size + _ZIP64_EOCD.size:
                raise UploadRejected(f"{name} is not a valid ZIP archive (broken ZIP64 record)")
            fh.seek(eocd_at - _ZIP64_LOCATOR.size)
            locator = _ZIP64_LOCATOR.unpack(fh.read(_ZIP64_LOCATOR.size))
            record_at = eocd_at - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size
            fh.seek(record_at)
            record = _ZIP64_EOCD.unpack(fh.read(_ZIP64_EOCD.size))
            if locator[0] != _ZIP64_LOCATOR_SIG or record[0] != _ZIP64_EOCD_SIG:
                raise UploadRejected(f"{name} is not a valid ZIP archive (broken ZIP64 record)")
            cd_size = record[8]
            eocd_at = record_at
        cd_start = eocd_at - cd_size
        if cd_start < 0:
            raise UploadRejected(f"{name} is not a valid ZIP archive (central directory out of bounds)")
        return cd_start, cd_size


def _count_entries(path: Path, name: str, cd_start: int, cd_size: int, max_members: int) -> None:
    """Walk the central directory's entries without building objects; stop past the limit."""
    count = 0
    end = cd_start + cd_size
    with open(path, "rb") as fh:
        fh.seek(cd_start)
        pos = cd_start
        while pos < end:
            header = fh.read(_CENTRAL.size)
            if len(header) < _CENTRAL.size or header[:4] != _CENTRAL_SIG:
                raise UploadRejected(f"{name} is not a valid ZIP archive (damaged central directory)")
            fields = _CENTRAL.unpack(header)
            skip = fields[12] + fields[13] + fields[14]  # name, extra field, comment lengths
            fh.seek(skip, 1)
            pos += _CENTRAL.size + skip
            count += 1
            if count > max_members:
                raise UploadRejected(f"{name} has more than {max_members} members (the limit)")


def _data_starts(fh: IO[bytes], name: str, infos: list[zipfile.ZipInfo], cd_start: int) -> dict[int, int]:
    """Where each member's compressed data starts, by header offset. Every member's data must
    end before the next member (or the central directory) begins: overlapping members — several
    entries sharing one block of data — let a few KB expand into many GB."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    starts: dict[int, int] = {}
    for index, info in enumerate(ordered):
        if not 0 <= info.header_offset < cd_start:
            raise UploadRejected(
                f'{name} is damaged: member "{info.filename}" points outside the archive data'
            )
        fh.seek(info.header_offset)
        header = fh.read(_LOCAL.size)
        if len(header) < _LOCAL.size or header[:4] != _LOCAL_SIG:
            raise UploadRejected(f'{name} is damaged: member "{info.filename}" has no valid header')
        fields = _LOCAL.unpack(header)
        data_start = info.header_offset + _LOCAL.size + fields[10] + fields[11]
        next_start = ordered[index + 1].header_offset if index + 1 < len(ordered) else cd_start
        if data_start + info.compress_size > next_start:
            raise UploadRejected(
                f"{name} has overlapping members, a construction used by zip bombs; it is not accepted"
            )
        starts[info.header_offset] = data_start
    return starts
