"""Turn an upload (one file, a .zip, or a .tar/.tar.gz/.tgz) into ``{relative path: bytes}``.

Archives are untrusted: every limit is enforced while reading, before anything is stored or run.
Refused: absolute paths and ``..`` components, links and device files, more than
``MAX_FILES`` files, a file larger than ``MAX_FILE_BYTES`` or a total larger than
``MAX_TOTAL_BYTES`` once unpacked (zip bombs stop at the limit; declared sizes are not trusted),
and anything that is not a readable archive. Files an operating system adds on its own
(macOS's ``__MACOSX`` folder, ``.DS_Store`` and ``._`` files; Windows' ``Thumbs.db`` and
``desktop.ini``) are left out. When every file sits in one top-level folder (a zipped project
folder), that folder is dropped.
"""
from __future__ import annotations

import errno
import io
import os
import stat
import tarfile
import zipfile
from pathlib import PurePosixPath

from django.utils.translation import gettext_lazy as _

from webapp.josa import say

MAX_FILES = 200
MAX_FILE_BYTES = 1_000_000
MAX_TOTAL_BYTES = 5_000_000
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")

MSG_BAD_ARCHIVE = _("The archive cannot be read: %(error)s")
MSG_ARCHIVE_EMPTY = _("The archive is empty: put the files of your submission in it.")
# Why an archive cannot be read, in the learner's language (never Python's own English text).
WHY_NOT_ZIP = _("it is not a zip file, or it is damaged.")
WHY_NOT_TAR = _("it is not a tar or tar.gz archive, or it is damaged.")
WHY_CUT = _("it ends too early (was the upload cut off?).")
WHY_OTHER = _("it is damaged, encrypted or uses a feature that is not supported.")
MSG_UNSAFE_PATH = _("The archive contains an unsafe path: %(path)s")
MSG_LINK = _("The archive contains a link or special file (%(path)s); only regular files are accepted.")
MSG_TOO_MANY = _("The archive contains more than %(max)s files. Leave out node_modules and .git: "
                 "the build installs the packages.")
# What a file manager adds to an archive by itself (Finder's "Compress", Windows Explorer).
OS_CLUTTER_FOLDERS = ("__MACOSX",)
OS_CLUTTER_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")
MSG_FILE_TOO_BIG = _("%(path)s is larger than %(max)s once unpacked.")
MSG_TOTAL_TOO_BIG = _("The archive unpacks to more than %(max)s.")

# Reading a folder of a learner's workspace (files_from_folder).
SKIPPED_FOLDERS = ("node_modules", ".git")
MAX_ENTRIES = 10 * MAX_FILES  # files, folders and skipped entries visited, in all
MAX_DEPTH = 32  # folders below the chosen one
MSG_FOLDER_BAD = _("Give a folder of your home folder (/root), such as a3 or work/a3, without "
                   "..: %(path)s")
MSG_FOLDER_DEEP = _("%(path)s is nested too deeply.")
MSG_FOLDER_LONG = _("The folder name is too long: give at most %(max)s characters.")
MAX_FOLDER_CHARS = 200  # what the form accepts; each name in it is also at most NAME_MAX bytes
NAME_MAX = 255  # bytes in one file or folder name on Linux (limits.h)
MSG_FOLDER_MISSING = _("There is no folder %(path)s in your workspace.")
MSG_FOLDER_EMPTY = _("The folder %(path)s has no files.")
MSG_FOLDER_LINK = _("%(path)s is a symbolic link; links are not followed. Put the file itself "
                    "there, or remove the link.")
MSG_FOLDER_SPECIAL = _("%(path)s is not a regular file or folder.")
MSG_FOLDER_TOO_MANY = _("The folder holds more than %(max)s files and folders.")
MSG_FOLDER_FILES = _("The folder holds more than %(max)s files.")
MSG_FOLDER_FILE_BIG = _("%(path)s is larger than %(max)s.")
MSG_FOLDER_TOTAL = _("The files in the folder add up to more than %(max)s.")


class UploadError(ValueError):
    """The upload was refused; ``str(exc)`` says why, for the learner."""



def size_text(n: int) -> str:
    """``n`` bytes as the handouts write sizes: decimal units (1 MB = 1 000 000 bytes), at most
    one decimal ("1 MB", "1.5 MB", "900 KB", "512 bytes")."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= size:
            return f"{round(n / size, 1):g} {unit}"
    return f"{n} bytes"

def is_archive(filename: str) -> bool:
    return filename.lower().endswith(ARCHIVE_SUFFIXES)


def is_os_clutter(path: str) -> bool:
    """True for a file an operating system put in the archive by itself (see the module
    docstring): ``path`` is a clean relative path, as :func:`_safe_path` returns."""
    parts = PurePosixPath(path).parts
    name = parts[-1]
    return (any(p in OS_CLUTTER_FOLDERS for p in parts) or name in OS_CLUTTER_FILES
            or name.startswith("._"))


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
            raise UploadError(say(MSG_FILE_TOO_BIG, {"path": path,
                                                         "max": size_text(MAX_FILE_BYTES)}))
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise UploadError(MSG_TOTAL_TOO_BIG % {"max": size_text(MAX_TOTAL_BYTES)})
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
            if is_os_clutter(path):
                continue
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
            if is_os_clutter(path):
                continue
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
    memory within the limits above. Raises :class:`UploadError` (an unreadable archive, said in
    the learner's language; an empty one; unsafe paths, links and the limits)."""
    if not is_archive(filename):
        return {PurePosixPath(filename.replace("\\", "/")).name: data}
    try:
        files = _from_zip(data) if filename.lower().endswith(".zip") else _from_tar(data)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError) as exc:
        why = (WHY_NOT_ZIP if isinstance(exc, zipfile.BadZipFile)
               else WHY_NOT_TAR if isinstance(exc, tarfile.TarError)
               else WHY_CUT if isinstance(exc, EOFError) else WHY_OTHER)
        raise UploadError(MSG_BAD_ARCHIVE % {"error": why}) from exc
    if not files:
        raise UploadError(str(MSG_ARCHIVE_EMPTY))
    return _strip_common_folder(files)


class _FolderBudget(_Budget):
    """The upload limits, worded for a folder rather than an archive."""

    def take_file(self) -> None:
        self.files += 1
        if self.files > MAX_FILES:
            raise UploadError(MSG_FOLDER_FILES % {"max": MAX_FILES})

    def read(self, fh, path: str) -> bytes:
        data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise UploadError(say(MSG_FOLDER_FILE_BIG,
                                  {"path": path, "max": size_text(MAX_FILE_BYTES)}))
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise UploadError(MSG_FOLDER_TOTAL % {"max": size_text(MAX_TOTAL_BYTES)})
        return data


def _folder_error(msg, path: str) -> UploadError:
    return UploadError(say(msg, {"path": path}))


def _open_dir(name: str, dir_fd: int, shown: str) -> int:
    """Open directory ``name`` below ``dir_fd`` without following a link (O_NOFOLLOW)."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        raise _folder_error(MSG_FOLDER_MISSING, shown) from None
    except OSError as exc:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode) or exc.errno == errno.ELOOP:
            raise _folder_error(MSG_FOLDER_LINK, shown) from None
        if exc.errno == errno.ENOTDIR:
            raise _folder_error(MSG_FOLDER_MISSING, shown) from None
        raise


def normalize_folder(folder: str) -> str:
    """A workspace folder as the learner typed it (``a3``, ``~/a3/``, ``/root/work/a3``) made
    relative to their home: ``a3``, ``work/a3``. Raises :class:`UploadError` for an empty path,
    ``..``, an absolute path outside /root, or one longer than MAX_FOLDER_CHARS characters or
    with a name longer than NAME_MAX bytes (which the file system would refuse)."""
    text = (folder or "").strip().replace("\\", "/")
    if len(text) > MAX_FOLDER_CHARS or any(len(part.encode()) > NAME_MAX for part in text.split("/")):
        raise UploadError(MSG_FOLDER_LONG % {"max": MAX_FOLDER_CHARS})
    for home in ("~/", "/root/"):  # what the learner sees in the terminal
        text = text.removeprefix(home)
    p = PurePosixPath(text)
    if not text or p.is_absolute() or text.startswith("~") or ".." in p.parts:
        raise _folder_error(MSG_FOLDER_BAD, folder)
    parts = [part for part in p.parts if part not in ("", ".")]
    if not parts:
        raise _folder_error(MSG_FOLDER_BAD, folder)
    return "/".join(parts)


def files_from_folder(root, folder: str) -> tuple[dict[str, bytes], list[str]]:
    """The files under ``root/folder``, read safely from the host side of a learner's workspace.

    ``root`` is the host folder of the workspace (a path); ``folder`` is relative to it (what the
    learner sees under /root). Returns ``({relative path: bytes}, [skipped folder paths])``.
    Every step opens relative to its parent's descriptor with O_NOFOLLOW, so no symbolic link
    (including one swapped in while reading) is ever followed: a link, the chosen folder or any
    entry in it, is refused, as is a device, FIFO or socket. Folders named in
    ``SKIPPED_FOLDERS`` are left out and listed. The upload limits apply (``MAX_FILES``,
    ``MAX_FILE_BYTES``, ``MAX_TOTAL_BYTES``; at most ``MAX_ENTRIES`` entries visited).
    Raises :class:`UploadError` with the learner-facing reason (bad path, missing, empty, link,
    special file, limits)."""
    shown = normalize_folder(folder)
    parts = shown.split("/")
    fd = os.open(str(root), os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, part in enumerate(parts):
            nxt = _open_dir(part, fd, "/".join(parts[: i + 1]))
            os.close(fd)
            fd = nxt
        out: dict[str, bytes] = {}
        skipped: list[str] = []
        _walk(fd, "", out, skipped, _FolderBudget(), [0])
    finally:
        os.close(fd)
    if not out:
        raise _folder_error(MSG_FOLDER_EMPTY, shown)
    return out, skipped


def _walk(dir_fd: int, prefix: str, out: dict[str, bytes], skipped: list[str], budget: _Budget,
          entries: list[int]) -> None:
    for name in sorted(os.listdir(dir_fd)):
        entries[0] += 1
        if entries[0] > MAX_ENTRIES:
            raise UploadError(MSG_FOLDER_TOO_MANY % {"max": MAX_ENTRIES})
        path = f"{prefix}{name}"
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise _folder_error(MSG_FOLDER_LINK, path)
        if stat.S_ISDIR(st.st_mode):
            if name in SKIPPED_FOLDERS:
                skipped.append(path)
                continue
            if path.count("/") >= MAX_DEPTH:
                raise _folder_error(MSG_FOLDER_DEEP, path)
            sub = _open_dir(name, dir_fd, path)
            try:
                _walk(sub, f"{path}/", out, skipped, budget, entries)
            finally:
                os.close(sub)
            continue
        if not stat.S_ISREG(st.st_mode):
            raise _folder_error(MSG_FOLDER_SPECIAL, path)
        budget.take_file()
        try:  # O_NONBLOCK: a FIFO swapped in after the stat above must not block the open
            ffd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _folder_error(MSG_FOLDER_LINK, path) from None
            raise
        with os.fdopen(ffd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise _folder_error(MSG_FOLDER_SPECIAL, path)
            out[path] = budget.read(fh, path)
