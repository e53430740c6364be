"""Safe reading of VideoPose3D's npz files, with numpy alone.

The npz files hold a pickled dict inside a 0-d object array. They are read with
:func:`load_npz_object`, which never calls ``np.load(allow_pickle=True)``: it parses the ``.npy``
header itself and unpickles with a restricted unpickler that can only rebuild numpy arrays, dtypes
and plain containers, so a crafted file cannot run code.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from skelgnn.fileio import (ZIP_READ_ERRORS, check_npy_size, check_npz_members, check_zip_member_size,
                            read_npy_header)

__all__ = ["load_npz_object", "npz_keys", "require_file", "DATA_ENV", "DEFAULT_DATA_DIR", "DATA_HINT",
           "default_data_dir"]

DATA_ENV = "SKELGNN_DATA"
DEFAULT_DATA_DIR = Path("..") / "shared" / "data" / "cmu"
DATA_HINT = (f"pass --data DIR (the directory holding data_3d_cmu.npz, e.g. {DEFAULT_DATA_DIR}) "
             f"or set {DATA_ENV}")
"""What a missing-file message suggests: these files live in the benchmark directory."""


def default_data_dir(data: str | None) -> str | None:
    """The benchmark directory a command reads: ``data`` when given, else ``$SKELGNN_DATA``,
    else :data:`DEFAULT_DATA_DIR` when present, else ``None`` (for the output rule,
    :class:`skelgnn.fileio.Writes`, before the command resolves and checks it itself)."""
    import os

    if data is not None:
        return data
    env = os.environ.get(DATA_ENV)
    if env:
        return env
    return str(DEFAULT_DATA_DIR) if DEFAULT_DATA_DIR.is_dir() else None

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMPY_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")
_SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [(m, "_reconstruct") for m in _NUMPY_CORE]
    + [(m, "scalar") for m in _NUMPY_CORE]
    + [(m, "_frombuffer") for m in _NUMPY_NUMERIC]  # protocol-5 array pickles
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")]
    + [(b, name) for b in ("builtins", "__builtin__")
       for name in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
                    "int", "float", "complex", "bool")]
)


UNPICKLE_BUDGET_FACTOR = 16
UNPICKLE_BUDGET_BASE = 1 << 20
"""What the constructors a pickle calls may allocate in all: ``16 x`` the pickle's own size plus
1 MiB. A real data file rebuilds its arrays from bytes it holds (nothing is allocated beyond
them); a crafted one can ask ``list(bytes(2e8))`` of 300 bytes (1.6 GB), refused here before the
call."""


class _ForbiddenGlobal(ValueError):
    """A pickle asked for a global outside the allow-list, or to allocate past the budget."""


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` in a pickle: only ``_reconstruct`` may receive it (calling it,
    or ``NEWOBJ`` on it, which could allocate any shape, fails)."""


_NDARRAY = _NdarrayToken()


def _nbytes(shape: Any, dtype: Any) -> int:
    """Bytes an array of ``shape`` and ``dtype`` would take (0 when they are not valid: the
    constructor will refuse them itself)."""
    try:
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        if not all(isinstance(d, int) and d >= 0 for d in dims):
            return 0
        size = 1
        for d in dims:
            size *= d
        return size * max(np.dtype(dtype).itemsize, 1)
    except (TypeError, ValueError):
        return 0


def _cost(name: str, args: tuple) -> int:
    """What calling the allow-listed constructor ``name`` with ``args`` would allocate, in
    bytes (8 per item for containers: one pointer each)."""
    first: Any = args[0] if args else None
    if name in ("bytes", "bytearray"):
        return first if isinstance(first, int) else len(first) if hasattr(first, "__len__") else 0
    if name in ("list", "tuple", "set", "frozenset", "dict", "OrderedDict"):
        return 8 * len(first) if hasattr(first, "__len__") else 0
    if name == "str":
        # str() of a container is its repr, which shared references can make huge
        if first is not None and not isinstance(first, (str, bytes, bytearray, int, float)):
            raise _ForbiddenGlobal("str() of a container")
        return 4 * len(first) if isinstance(first, (str, bytes, bytearray)) else 64
    if name == "_reconstruct":
        return _nbytes(args[1], args[2]) if len(args) >= 3 else 0
    if name == "scalar":
        return _nbytes((), first)
    return 0


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals numpy arrays and plain containers need, each
    wrapped so that what it allocates is counted against a budget (:data:`UNPICKLE_BUDGET_FACTOR`)
    and refused before the call once past it."""

    def __init__(self, file: io.BufferedIOBase, origin: str, size: int = 0) -> None:
        # latin1 lets Python 2 numpy pickles (byte strings holding array data) load.
        super().__init__(file, encoding="latin1")
        self._origin = origin
        self._budget = UNPICKLE_BUDGET_FACTOR * size + UNPICKLE_BUDGET_BASE

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_GLOBALS:
            raise _ForbiddenGlobal(
                f"{self._origin}: refusing to unpickle {module}.{name}; only numpy arrays, dtypes "
                "and plain containers are allowed in data files")
        if module == "__builtin__":
            module = "builtins"
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        return self._bounded(name, super().find_class(module, name))

    def _bounded(self, name: str, func: Any) -> Any:
        def call(*args: Any) -> Any:  # a plain function: NEWOBJ on it fails, REDUCE calls it
            try:
                cost = _cost(name, args)
            except _ForbiddenGlobal as exc:
                raise _ForbiddenGlobal(f"{self._origin}: refusing to unpickle {exc}") from None
            if cost > self._budget:
                raise _ForbiddenGlobal(
                    f"{self._origin}: refusing to unpickle: {name}() would allocate {cost:,} bytes, "
                    f"over what a pickle of this size may ask for; the file is corrupt or crafted")
            self._budget -= cost
            if name == "_reconstruct" and args and args[0] is _NDARRAY:
                args = (np.ndarray, *args[1:])
            return func(*args)

        return call


def require_file(path: Path, what: str) -> Path:
    """``path`` when it is a file; otherwise ``FileNotFoundError`` naming ``what`` and the hint."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}; {DATA_HINT}")
    return path


def npz_keys(path: str | Path) -> list[str]:
    """The array names stored in an npz archive."""
    path = require_file(Path(path), "npz file")
    try:
        with zipfile.ZipFile(path) as zf:
            return [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
    except ZIP_READ_ERRORS as exc:
        raise ValueError(f"{path}: not an npz (zip) archive ({type(exc).__name__}: {exc})") from None


def load_npz_object(path: str | Path, key: str) -> Any:
    """Read array ``key`` of an npz archive without ``allow_pickle=True``.

    Object arrays (VideoPose3D's pickled dicts) are read by opening the ``key.npy`` member of the
    zip, parsing its ``.npy`` header (``numpy.lib.format.read_magic`` /
    ``read_array_header_1_0`` / ``read_array_header_2_0``) and unpickling the rest with a
    restricted unpickler whose ``find_class`` resolves only numpy's array / dtype / scalar
    reconstructors, ``collections.OrderedDict`` and builtin containers and scalars; any other
    global (``os.system``, ``builtins.eval``, a class with ``__reduce__``...) raises ``ValueError``
    naming the file before anything is called, and so does a call that would allocate more than
    the pickle's size allows (:data:`UNPICKLE_BUDGET_FACTOR`: ``list(bytes(2e8))``). Plain
    (non-object) arrays are read with ``np.load(allow_pickle=False)``.

    Returns:
        The stored object: for a 0-d object array its single item (the dict), otherwise the array.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not an npz archive or a damaged one, ``key`` missing (the message lists the
            keys present), an unsupported header or one declaring more data than the member
            holds, a corrupt pickle, or a forbidden global.
    """
    path = require_file(Path(path), "npz file")
    member = f"{key}.npy"
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if member not in names:
                present = [n[:-4] for n in names if n.endswith(".npy")]
                raise ValueError(f"{path}: no key {key!r}; keys present: {present}")
            info = zf.getinfo(member)
            stored = info.file_size
            origin = f"{path}: key {key!r}"
            check_zip_member_size(info, origin)  # a pickle inflating 1000x: refused unread
            with zf.open(member) as f:
                shape, dtype = read_npy_header(f, origin)
                check_npy_size(shape, dtype, stored - f.tell(), origin)
                payload = f.read() if dtype.hasobject else None
    except ZIP_READ_ERRORS as exc:
        raise ValueError(f"{path}: not an npz (zip) archive, or a damaged one "
                         f"({type(exc).__name__}: {exc})") from None
    if payload is None:
        try:
            check_npz_members(path)
            with np.load(path, allow_pickle=False) as npz:
                return npz[key]
        except (ValueError,) + ZIP_READ_ERRORS as exc:
            raise ValueError(f"{path}: key {key!r} could not be read ({type(exc).__name__}: "
                             f"{exc})") from None
    try:
        obj = _RestrictedUnpickler(io.BytesIO(payload), str(path), len(payload)).load()
    except _ForbiddenGlobal as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # corrupt pickle: UnpicklingError, EOFError, ValueError, MemoryError...
        raise ValueError(f"{path}: key {key!r} could not be unpickled ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, np.ndarray):
        raise ValueError(f"{path}: key {key!r} should unpickle to a numpy array, found {type(obj).__name__}")
    return obj.item() if obj.ndim == 0 else obj
