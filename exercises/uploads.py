"""Turn an upload (one file, a .zip, or a .tar/.tar.gz/.tgz) into ``{relative path: bytes}``.

Archives are untrusted: every limit is enforced while reading, before anything is stored or run.
Refused: absolute paths and ``..`` components, links and device files, more than
``MAX_FILES`` files, a file larger than ``MAX_FILE_BYTES`` or a total larger than
``MAX_TOTAL_BYTES`` once unpacked (zip bombs stop at the limit; declared sizes are not trusted),
and anything that is not a readable archive. When every file sits in one top-level folder (a
zipped project folder), that folder is dropped.
"""
from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import PurePosixPath

from django.utils.translation import gettext_lazy as _

MAX_FILES = 200
MAX_FILE_BYTES = 1_000_000
MAX_TOTAL_BYTES = 5_000_000
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")

MSG_BAD_ARCHIVE = _("The archive cannot be read: %(error)s")
MSG_UNSAFE_PATH = _("The archive contains an unsafe path: %(path)s")
MSG_LINK = _("The archive contains a link or special file (%(path)s); only regular files are accepted.")
MSG_TOO_MANY = _("The archive contains more than %(max)s files.")
MSG_FILE_TOO_BIG = _("%(path)s is larger than %(max)s bytes once unpacked.")
MSG_TOTAL_TOO_BIG = _("The archive unpacks to more than %(max)s bytes.")


class UploadError(ValueError):
    """The upload was refused; ``str(exc)`` says why, for the learner."""


def is_archive(filename: str) -> bool:
    return filename.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_path(name: str) -> str:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise UploadError(MSG_UNSAFE_PATH % {"path": name})
    clean = str(PurePosixPath(*[part for part in p.parts if part not in ("", ".")]))
    if clean in ("", "."):
        raise UploadError(MSG_UNSAFE_PATH % {"path": name})
    return clean


class _Budget:
    def __init__(self) -> None:
        self.total = 0
        self.files = 0

    def take_file(self) -> None:
        self.files += 1
        if self.files > MAX_FILES:
            raise UploadError(MSG_TOO_MANY % {"max": MAX_FILES})

    def read(self, fh, path: str) -> bytes:
        """Read at most the limits from ``fh``, whatever the archive claims the size is."""
        data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise UploadError(MSG_FILE_TOO_BIG % {"path": path, "max": MAX_FILE_BYTES})
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise UploadError(MSG_TOTAL_TOO_BIG % {"max": MAX_TOTAL_BYTES})
        return data


def _from_zip(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    budget = _Budget()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            # Unix mode in the high bits (when the zip was made on Unix); a type other than a
            # regular file (symlink, device ...) is refused. No type bits: a plain file.
            ftype = stat.S_IFMT(info.external_attr >> 16)
            if ftype and ftype != stat.S_IFREG:
                raise UploadError(MSG_LINK % {"path": info.filename})
            path = _safe_path(info.filename)
            budget.take_file()
            with zf.open(info) as fh:
                out[path] = budget.read(fh, path)
    return out


def _from_tar(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    budget = _Budget()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar:
            if member.isdir():
                continue
            if not member.isfile():
                raise UploadError(MSG_LINK % {"path": member.name})
            path = _safe_path(member.name)
            budget.take_file()
            fh = tar.extractfile(member)
            out[path] = budget.read(fh, path) if fh else b""
    return out


def _strip_common_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    tops = {PurePosixPath(p).parts[0] for p in files}
    if len(tops) == 1 and all(len(PurePosixPath(p).parts) > 1 for p in files):
        return {str(PurePosixPath(*PurePosixPath(p).parts[1:])): b for p, b in files.items()}
    return files


def files_from_upload(filename: str, data: bytes) -> dict[str, bytes]:
    """The files of an upload. A plain file keeps its base name; an archive is unpacked in
    memory within the limits above. Raises :class:`UploadError`."""
    if not is_archive(filename):
        return {PurePosixPath(filename.replace("\\", "/")).name: data}
    try:
        files = _from_zip(data) if filename.lower().endswith(".zip") else _from_tar(data)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError) as exc:
        raise UploadError(MSG_BAD_ARCHIVE % {"error": str(exc)[:200]}) from exc
    return _strip_common_folder(files)
