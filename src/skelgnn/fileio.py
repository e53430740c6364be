"""File helpers shared by every writer of the package (nothing is ever half-written under its
real name), and what every npz reader checks: the exceptions a damaged zip archive raises, and
``.npy`` headers that declare more data than they hold."""
from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

import numpy as np

__all__ = ["WriteError", "usual_mode", "check_output_path", "write_error",
           "refuse_overwriting_inputs", "Writes", "open_lock_file", "open_append_nofollow",
           "atomic_path",
           "atomic_open", "atomic_write_text",
           "ZIP_READ_ERRORS", "read_npy_header", "check_npy_size", "check_npz_members",
           "check_zip_member_size", "MAX_INFLATION", "INFLATION_FREE_BYTES", "MAX_NPZ_MEMBER_BYTES",
           "check_file_size"]

ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)
"""What ``zipfile`` / ``np.load`` raise on a damaged npz besides ``ValueError``: a bad CRC or
header (``BadZipFile``), corrupt deflate data (``zlib.error``), a cut-off member (``EOFError``),
a local header offset past the end (``OSError``), an unknown zip version or compression method
(``NotImplementedError``), a flipped "encrypted" flag (``RuntimeError``). Readers turn them into
``ValueError`` naming the file, found by flipping every byte of small npz files."""


def usual_mode(path: str | os.PathLike) -> None:
    """Give a file made by ``tempfile.mkstemp`` (mode 0600) the mode a plain ``open`` would give
    it (0666 minus the umask), so renamed outputs are readable like any other file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


class WriteError(ValueError):
    """An output could not be written (no permission, read-only file system, disk full); the
    message names the output, never a temporary file, and nothing was left under its name.
    A ``ValueError`` so that the command line prints it as one ``error:`` line; ``reason`` is
    the operating system's words (``No space left on device``)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


_ADVICE = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space",
           errno.EROFS: "choose a writable directory", errno.EACCES: "choose a writable directory",
           errno.EPERM: "choose a writable directory"}


def write_error(path: str | os.PathLike, exc: OSError) -> WriteError:
    """The :class:`WriteError` for ``exc`` raised while writing ``path``: one line naming
    ``path`` and the reason, e.g. ``cannot write out.npz: No space left on device (nothing was
    written; free some space)``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    advice = _ADVICE.get(exc.errno or 0)
    return WriteError(f"cannot write {path}: {reason} (nothing was written"
                      + (f"; {advice})" if advice else ")"), reason)


def _existing_ancestor(directory: Path) -> Path:
    """The nearest of ``directory`` and its parents that exists (what ``mkdir -p`` starts from)."""
    directory = Path(os.path.abspath(directory))
    while not os.path.lexists(directory) and directory != directory.parent:
        directory = directory.parent
    return directory


def check_output_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path if an output may be written there: nothing there yet, or a regular file
    (followed through links) that will be replaced, in a directory that exists or can be created
    and is writable. Commands call it before their work, so that a bad output path costs no time.

    Raises:
        ValueError: something else is there -- a directory, a device such as ``/dev/null``, a
            pipe or socket -- which a rename would destroy or cannot replace.
        WriteError: the directory cannot be created or written (a file in its place, no write
            permission, a read-only file system).
    """
    path = Path(path)
    if os.path.lexists(path) and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise ValueError(f"cannot write {path}: it is {kind}; give the path of a file to write")
    base = _existing_ancestor(path.parent)
    if not base.is_dir():
        raise WriteError(f"cannot write {path}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise write_error(path, PermissionError(errno.EACCES, f"directory {base} is not writable"))
    return path


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same inode when both exist (through symbolic
    and hard links), else the same fully resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def _inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` (resolved through links) is ``directory`` or lies anywhere below it."""
    try:
        p, d = path.resolve(), directory.resolve()
    except (OSError, RuntimeError):  # a link loop: compared as written
        p, d = Path(os.path.abspath(path)), Path(os.path.abspath(directory))
    return p == d or d in p.parents


def refuse_overwriting_inputs(outputs: Iterable[str | os.PathLike | None],
                              inputs: Iterable[str | os.PathLike | None]) -> None:
    """The one rule every writing command applies before any work: **no output may name, link
    to, or sit inside anything the command reads.** An output is refused when it is an input
    file -- the same path, or the same file reached through a symbolic or hard link, which the
    atomic rename would replace -- or lies inside an input directory (a data directory, a
    BVH tree), or cannot be written at all (:func:`check_output_path`). ``None`` entries
    (options not given) are skipped; inputs that do not exist are compared by resolved path.

    Raises:
        ValueError: naming the output and the input it would overwrite or sit in, or why it
            cannot be written (:class:`WriteError` for a directory that is read-only or not a
            directory).
    """
    ins = [Path(p) for p in inputs if p is not None]
    for out in outputs:
        if out is None:
            continue
        for src in ins:
            if _same_file(Path(out), src):
                same = "" if Path(out) == src else f" (the same file as input {src})"
                raise ValueError(f"refusing to write {out}{same}: it is an input of this command "
                                 "and would be overwritten; choose another output path")
            if src.is_dir() and _inside(Path(out), src):
                raise ValueError(f"refusing to write {out}: it lies inside {src}, which this "
                                 "command reads; choose an output outside it")
        check_output_path(out)


@dataclass(frozen=True)
class Writes:
    """What a command reads and writes, declared next to its parser (``set_defaults(writes=
    lambda args: Writes(...))``) so that :func:`skelgnn.cli.main` applies
    :func:`refuse_overwriting_inputs` to every writing command before its handler runs.

    Attributes:
        outputs: every file the command may write (``None`` for options not given).
        inputs: every file or directory it reads (checkpoints, data directories, run files).
    """

    outputs: Sequence[str | os.PathLike | None]
    inputs: Sequence[str | os.PathLike | None] = ()

    def check(self) -> None:
        """Apply :func:`refuse_overwriting_inputs`."""
        refuse_overwriting_inputs(self.outputs, self.inputs)


def open_lock_file(path: str | os.PathLike) -> int:
    """A file descriptor of the lock file ``path``, never following a link and never truncating:
    created exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``, the process id written into it), or,
    left by a killed process, opened as it is when it is a regular file.

    Raises:
        ValueError: ``path`` is a symbolic link (dangling or not) or anything but a regular file;
            nothing was opened or written through it.
        OSError: the directory cannot be written.
    """
    path = Path(path)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    cloexec = getattr(os, "O_CLOEXEC", 0)
    if os.path.islink(path):
        raise ValueError(f"refusing to use lock file {path}: it is a symbolic link (to "
                         f"{os.readlink(path)}); remove it")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | nofollow | cloexec, 0o644)
    except FileExistsError:
        try:
            fd = os.open(path, os.O_RDONLY | nofollow | cloexec)  # flock needs no write
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ValueError(f"refusing to use lock file {path}: it is a symbolic link; "
                                 "remove it") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ValueError(f"refusing to use lock file {path}: not a regular file") from None
        return fd
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"refusing to use lock file {path}: it is a symbolic link; "
                             "remove it") from None
        raise
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def open_append_nofollow(path: str | os.PathLike) -> IO[str]:
    """``path`` opened for appending text (created when missing), refusing a symbolic link --
    dangling ones included, which a plain ``open`` would follow to create a file elsewhere.

    Raises:
        ValueError: ``path`` is a symbolic link or not a regular file.
        OSError: it cannot be opened.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    if os.path.islink(path):
        raise ValueError(f"refusing to write {path}: it is a symbolic link (to "
                         f"{os.readlink(path)}); remove it")
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"refusing to write {path}: it is a symbolic link; remove it") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"refusing to write {path}: not a regular file")
    return os.fdopen(fd, "a", encoding="utf-8")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, on any error
    delete it (an existing file at ``path`` is then untouched). Creates the parent directory.
    Every writer of the package goes through here.

    Raises:
        ValueError: ``path`` is a directory, a device or anything but a regular file
            (:func:`check_output_path`), checked before anything is written.
        WriteError: any ``OSError`` while creating the directory, writing (in the ``with``
            body: a full disk) or renaming, turned into one line naming ``path``; the temporary
            file is gone and an existing file at ``path`` is untouched.
    """
    path = check_output_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        usual_mode(tmp)
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and _is_write_failure(exc, tmp, path):
            raise write_error(path, exc) from None
        raise


_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""``errno`` values that only a write raises, whichever file the exception names."""


def _is_write_failure(exc: OSError, tmp: str, path: Path) -> bool:
    """Whether ``exc``, raised in an :func:`atomic_path` block, is the output's write failing
    (a full disk, a read-only file system, or an error on the temporary file or the target)
    rather than, say, an input being read in the same block, which keeps its own message."""
    names = {os.fspath(n) for n in (exc.filename, exc.filename2) if n is not None}
    return exc.errno in _WRITE_ERRNOS or bool(names & {tmp, os.fspath(path)})


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file handle whose content replaces ``path`` only once fully written and synced
    to disk (:func:`atomic_path` plus ``fsync``)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_open`."""
    with atomic_open(path) as fh:
        fh.write(text.encode("utf-8"))
    return Path(path)


def read_npy_header(f: IO[bytes], origin: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of an ``.npy`` stream positioned at its start (format
    1.0 or 2.0), leaving the stream at the first data byte.

    Raises:
        ValueError: naming ``origin``: a bad magic string or header, or another format version.
    """
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version}; expected 1.0 or 2.0")
    except ValueError as exc:
        raise ValueError(f"{origin} is not a valid .npy array ({exc})") from None
    return tuple(int(n) for n in shape), dtype


def check_npy_size(shape: tuple[int, ...], dtype: np.dtype, available: int, origin: str) -> None:
    """Refuse a plain-dtype header that declares more data than its member holds: a truncated
    file, or a crafted one that would make numpy allocate terabytes before noticing."""
    if dtype.hasobject:
        return
    declared = math.prod(shape) * dtype.itemsize
    if declared > available:
        raise ValueError(f"{origin} declares shape {shape} {dtype} ({declared} bytes) but holds "
                         f"only {available} bytes; the file is truncated or corrupt")


MAX_INFLATION = 100
"""How many times its compressed size a zip member may inflate to, beyond
:data:`INFLATION_FREE_BYTES` (real data compress 1-3x, integer index arrays up to 60x; a deflated
zero array 1000x, which turned a 2 MB keypoints file into 10 GB)."""

INFLATION_FREE_BYTES = 16 << 20
"""Members declaring up to this many bytes are read whatever their compression (16 MiB)."""

MAX_NPZ_MEMBER_BYTES = 1 << 30
"""The most any one npz member may declare, compressed or not (1 GiB; the largest benchmark
array is 40 MB)."""


def check_zip_member_size(info: zipfile.ZipInfo, origin: str, declared: int | None = None) -> None:
    """Refuse, from the zip directory alone, a member that would inflate past
    :data:`MAX_INFLATION` times its compressed size (beyond :data:`INFLATION_FREE_BYTES`) or
    past :data:`MAX_NPZ_MEMBER_BYTES`: ``declared`` (the bytes its ``.npy`` header asks for) or,
    when not given, the member's uncompressed size.

    Raises:
        ValueError: naming ``origin``, the sizes and the bound.
    """
    size = info.file_size if declared is None else max(declared, 0)
    if size > MAX_NPZ_MEMBER_BYTES:
        raise ValueError(f"{origin} declares {size:,} bytes, over the bound of "
                         f"{MAX_NPZ_MEMBER_BYTES:,} bytes per array")
    if size > INFLATION_FREE_BYTES and size > MAX_INFLATION * info.compress_size:
        raise ValueError(f"{origin} declares {size:,} bytes from {info.compress_size:,} "
                         f"compressed bytes (over {MAX_INFLATION}x); the file is crafted or "
                         "corrupt (a compression bomb) and is refused before it is inflated")


def check_npz_members(path: str | os.PathLike) -> None:
    """Check every ``.npy`` member header of an npz archive before ``np.load`` reads it: its
    declared shape x itemsize against what the member stores and against its compressed size
    (:func:`check_zip_member_size`), so nothing is inflated or allocated before the bounds hold.

    Raises:
        ValueError: a bad header or one declaring more data than stored (see
            :func:`check_npy_size`) or than the bounds allow; the zip-level errors of
            :data:`ZIP_READ_ERRORS` pass through.
    """
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            origin = f"{path}: key {info.filename[:-4]!r}"
            check_zip_member_size(info, origin)
            with zf.open(info) as f:
                shape, dtype = read_npy_header(f, origin)
                check_npy_size(shape, dtype, info.file_size - f.tell(), origin)
                if not dtype.hasobject:
                    check_zip_member_size(info, origin, math.prod(shape) * dtype.itemsize)


def check_file_size(path: str | os.PathLike, limit: int, what: str) -> None:
    """Refuse a file larger than ``limit`` bytes before it is read whole (a sparse 20 GB file
    costs nothing on disk and everything in memory).

    Raises:
        ValueError: naming ``path``, its size and the bound.
    """
    size = os.path.getsize(path)
    if size > limit:
        raise ValueError(f"{path}: {size:,} bytes, over the {limit:,} a {what} may have "
                         "(docs/USAGE.md, 'Data formats and safety')")
