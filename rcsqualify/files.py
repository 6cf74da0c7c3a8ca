"""The user's files (CONTRACT §11): atomic writes, temporary copies of personal data,
and the refusal to write over an input.

Three mechanics, each in one place:

- ``atomic_write(path)``: a temporary ``.<name>.<random>.part`` beside the target,
  flushed to disk (fsync) and renamed onto it (``os.replace``) only when the block
  succeeds, then the directory entry is synced. The target is therefore always either
  its previous content or the complete new one, never a half file, even on a full disk
  or a kill. The mode is explicit: an existing target keeps its permission bits (a base
  the user made private stays private); a new one gets what ``open()`` would give under
  the user's umask. A file that cannot be written is an ``OutputError`` (exit 2) naming
  the file and the system's reason.
- Temporary files holding personal data (the stdin spool, ``.part`` files) are
  registered with ``track_temporary`` and removed on every exit path: normal return,
  exception, and the signals SIGINT, SIGTERM and SIGHUP, through one handler
  (``cleanup_on_exit``) that removes them, then raises ``Interrupted`` so that
  ``finally`` blocks run (caches close, locks are released). A second signal while that
  unwinds kills the process at once (the temporaries are already gone).
- ``refuse_overwrite(inputs, outputs)``: an output that is one of the inputs (same path
  after resolving symbolic links, or the same inode: a hard link) or another output of
  the same run is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType

from rcsqualify.errors import InputError, Locked, RcsQualifyError


def make_folder(folder: Path, say: Callable[[str], None] | None = None) -> None:
    """One rule for every output (issue #26 item 5): a missing folder is created, with
    its parents, and said (a typo in a path then shows at once): to ``say`` when given
    (a run's reporter: the terminal for the command line, ``Result.notices`` for the
    Python API, which prints nothing), else on stderr."""
    if folder.is_dir():
        return
    folder.mkdir(parents=True, exist_ok=True)
    message = f"rcsqualify: created folder {folder}"
    if say is not None:
        say(message)
        return
    import sys

    sys.stderr.write(message + "\n")


_TEMPORARY: set[str] = set()
_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
                 if s is not None)


class OutputError(RcsQualifyError):
    """An output file could not be written (full disk, no permission...): exit 2."""


class Interrupted(KeyboardInterrupt):
    """A signal asked the run to stop; ``exit_code`` is 128 + the signal number
    (130 for Ctrl-C, 143 for SIGTERM), as a shell reports it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


# -- temporary personal data -----------------------------------------------------------
def track_temporary(path: str | Path) -> None:
    """Remove ``path`` on any exit of the current command (see ``cleanup_on_exit``)."""
    _TEMPORARY.add(os.fspath(path))


def untrack_temporary(path: str | Path) -> None:
    _TEMPORARY.discard(os.fspath(path))


def remove_temporaries(paths: Iterable[str] | None = None) -> None:
    """Unlink the tracked temporaries (all of them, or ``paths``); never raises."""
    for path in list(_TEMPORARY if paths is None else paths):
        with contextlib.suppress(OSError):
            os.unlink(path)
        _TEMPORARY.discard(path)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # the one handler: personal data first, then unwind like Ctrl-C does
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_DFL)  # a second signal ends the process at once
    remove_temporaries()
    raise Interrupted(signum)


@contextlib.contextmanager
def cleanup_on_exit() -> Iterator[None]:
    """Run a command with the signal handler installed; on leaving, however it is left,
    remove the temporaries registered inside and restore the previous handlers.

    Nested use (``refresh`` runs ``check``) installs nothing twice, and an inner block
    removes only what was registered inside it. Outside the main thread signals cannot
    be handled; the ``finally`` clean-up still applies.
    """
    before = set(_TEMPORARY)
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in _SIGNALS:
            if signal.getsignal(sig) is not _on_signal:
                previous[sig] = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        remove_temporaries(_TEMPORARY - before)
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def temporary_file(prefix: str, directory: str | Path | None = None, suffix: str = ""
                   ) -> tuple[int, Path]:
    """``mkstemp`` (mode 0600), registered for removal before anyone can interrupt us
    between its creation and its registration (signals are handled between bytecodes)."""
    fd, name = tempfile.mkstemp(prefix=prefix, dir=directory, suffix=suffix)
    track_temporary(name)
    return fd, Path(name)


# -- atomic writes ---------------------------------------------------------------------
def default_mode(target: Path) -> int:
    """An existing file keeps its permission bits; a new one gets ``0666 & ~umask``."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def cannot_write(target: str | Path, exc: OSError) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"cannot write {target}: {reason}; nothing was replaced")


@contextlib.contextmanager
def atomic_write(path: str | Path, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is synced and renamed onto
    ``path`` with ``mode`` (default: see ``default_mode``). On any failure the temporary
    is removed and ``path`` is untouched; an ``OSError`` becomes an ``OutputError``.

    A symbolic link is followed (the file it names is replaced, the link stays). A target
    that exists and is not a regular file (``/dev/stdout``, a FIFO, a device) is written
    in place: renaming a file onto it would replace the device itself."""
    target = Path(path)
    try:
        special = not stat.S_ISREG(os.stat(target).st_mode)  # follows links
    except OSError:
        special = False
    if special:
        yield target  # a device or a pipe: no atomicity to be had, nothing replaced
        return
    if target.is_symlink():
        if not target.exists():
            raise OutputError(f"cannot write {target}: a symbolic link to nothing; "
                              "nothing was replaced")  # never create what a link names
        target = Path(os.path.realpath(target))  # replace the file it names, keep the link
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temporary_file(f".{target.name}.", target.parent, ".part")
        os.close(fd)
    except OSError as exc:
        raise cannot_write(target, exc) from exc
    try:
        yield tmp
        final_mode = default_mode(target) if mode is None else mode
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, final_mode)
        os.replace(tmp, target)
        _fsync_directory(target.parent)
    except OSError as exc:
        remove_temporaries([os.fspath(tmp)])
        raise cannot_write(target, exc) from exc
    except BaseException:
        remove_temporaries([os.fspath(tmp)])
        raise
    finally:
        untrack_temporary(tmp)


def _keep_previous(target: Path, backup: Path) -> None:
    """``backup`` holds ``target``'s previous version: a hard link (instant), or a copy
    where the file system has no hard links (FAT, some network shares)."""
    try:
        os.link(target, backup, follow_symlinks=False)
    except OSError:
        import shutil

        shutil.copy2(target, backup, follow_symlinks=False)


def publish_all(pairs: list[tuple[Path, Path]], *, mode: int | None = None) -> None:
    """Rename every staged temporary onto its target: all of them, or none.

    Several files that belong together (the split lists and their manifest) must never
    be half replaced (issue #23 item 18: a directory in place of one list left three
    lists new, the manifest old, and every later run refusing the tool's own lists).
    Every target is checked first (an existing one must be a regular file); the
    previous version of each is kept as a hard link until all renames succeeded, and a
    failed rename puts every one back. Signals wait until the renames are done (the
    clean-up handler would otherwise remove the backups a rollback needs). An
    ``OSError`` becomes an ``OutputError`` whose "nothing was replaced" is then true.
    """
    targets = [target for _, target in pairs]
    for target in targets:
        if os.path.lexists(target) and not target.is_symlink() and not target.is_file():
            raise OutputError(f"cannot write {target}: something other than a file is in "
                              "its place; nothing was replaced")
    try:
        for tmp, target in pairs:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, default_mode(target) if mode is None else mode)
    except OSError as exc:
        raise cannot_write(tmp, exc) from exc
    blocked = threading.current_thread() is threading.main_thread()
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    done: list[tuple[Path, Path | None]] = []
    try:
        for tmp, target in pairs:
            backup = None
            if os.path.lexists(target):  # a link is replaced by the file, never followed
                backup = target.with_name(f".{target.name}.{os.getpid()}.previous")
                with contextlib.suppress(FileNotFoundError):
                    backup.unlink()
                _keep_previous(target, backup)
            done.append((target, backup))
            os.replace(tmp, target)
    except OSError as exc:
        for target, backup in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink()
        raise cannot_write(target, exc) from exc
    finally:
        for _, backup in done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    for tmp, _ in pairs:
        untrack_temporary(tmp)
    _fsync_directory(targets[0].parent if targets else Path("."))


# -- locks -----------------------------------------------------------------------------
_HELD_LOCKS: set[str] = set()


@contextlib.contextmanager
def hold_lock(path: Path, wait: float, busy: str) -> Iterator[None]:
    """Hold the file lock ``path`` for the block, waiting at most ``wait`` seconds for
    another process's; ``Locked`` (exit 4, message ``busy``) when it stays held.

    Re-entrant within the process (``refresh`` holds the list directory's lock and runs
    ``check``, which takes it too). A lock path that is a symbolic link or not a
    regular file is refused (exit 2): the locking library opens it with ``O_TRUNC``,
    and would empty whatever file a link names."""
    from filelock import FileLock, Timeout

    key = os.path.realpath(path)
    if key in _HELD_LOCKS:
        yield
        return
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise InputError(f"the lock {path} is a symbolic link or not a regular file: "
                         "remove it (nothing was done)")
    lock = FileLock(str(path), timeout=wait)
    try:
        lock.acquire()
    except Timeout:
        raise Locked(busy) from None
    except OSError as exc:
        raise InputError(f"cannot take the lock {path}: "
                         f"{exc.strerror or type(exc).__name__} (nothing was done)") from None
    _HELD_LOCKS.add(key)
    try:
        yield
    finally:
        _HELD_LOCKS.discard(key)
        lock.release()


# -- secrets ---------------------------------------------------------------------------
def create_exclusive(path: Path, data: bytes, *, mode: int = 0o600) -> bool:
    """Write ``data`` to ``path`` only if nothing has that name, whole or not at all;
    False (nothing written) when the name exists.

    Written to a temporary beside it (``mkstemp``: mode 0600 from its creation, removed
    on a signal), synced, then *linked* into place: ``link`` fails if the name exists,
    so of many writers exactly one wins, and no reader ever sees part of the file (an
    ``O_EXCL`` open of the name itself left an empty or half-written file when the
    process was stopped between the open and the write). The directory is synced after,
    so the name survives a power cut before whatever the caller does next (a key
    leaving the cache). Raises ``OSError`` (a file system without hard links too: a
    ``rename`` there would replace a file another writer put in place meanwhile); the
    temporary never stays."""
    fd, tmp = temporary_file(f".{path.name}.", path.parent, ".part")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        _fsync_directory(path.parent)
        return True
    finally:
        remove_temporaries([os.fspath(tmp)])


#: A key, a service-account JSON or a password is a few KB; more is not a secret file.
SECRET_FILE_LIMIT = 1 << 20


def read_secret_file(path: str | Path, limit: int = SECRET_FILE_LIMIT) -> bytes:
    """The bytes of a secret file, read only from a regular file and at most ``limit``
    bytes. A FIFO (``--bot-key-file`` on a pipe hung the run) or a device
    (``/dev/zero``: MemoryError) is an ``OSError`` whose ``strerror`` says why, so each
    caller keeps its one-line message naming the option. Opened non-blocking: opening
    a FIFO for reading would otherwise wait for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a pipe or a device): a secret "
                          "is read from a file only")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes: not a secret file")
    return data


# -- never write over an input ---------------------------------------------------------
def _identity(path: str | Path) -> tuple[str, tuple[int, int] | None]:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return real, None
    return real, (st.st_dev, st.st_ino)


def refuse_overwrite(inputs: Iterable[tuple[str, str | Path | None]],
                     outputs: Iterable[tuple[str, str | Path | None]],
                     directories: Iterable[tuple[str, str | Path | None]] = ()) -> None:
    """Raise ``InputError`` (exit 2) if an output resolves to an input or to another
    output, or lies inside one of ``directories`` (a directory the run reads and writes
    by itself, such as the cache's). Each item is ``(what, path)``, ``what`` naming the
    option in the message; ``None`` paths are skipped. Paths are compared after
    ``realpath`` and, for files that exist, by device and inode, so a symbolic or hard
    link to an input is caught. An output that is a dangling symbolic link is refused
    too (issue #23 item 20: it created directories at the link's target)."""
    ins = [(what, Path(p), *_identity(p)) for what, p in inputs if p is not None]
    dirs = [(what, Path(p), os.path.realpath(p)) for what, p in directories if p is not None]
    seen: list[tuple[str, Path, str, tuple[int, int] | None]] = []
    for what, p in outputs:
        if p is None:
            continue
        if os.path.islink(p) and not os.path.exists(p):
            # following it would create a file (and its directories) wherever the link
            # points: the user never named that place
            raise InputError(f"{what} {p} is a symbolic link to nothing: remove it or "
                             "choose another output name (nothing was written)")
        real, ino = _identity(p)
        for dir_what, dir_path, dir_real in dirs:
            if os.path.commonpath([real, dir_real]) == dir_real:
                raise InputError(f"{what} {p} is inside {dir_what} {dir_path}, which "
                                 "rcsqualify reads and writes itself; choose another "
                                 "output name (nothing was written)")
        for in_what, in_path, in_real, in_ino in ins:
            if real == in_real or (ino is not None and ino == in_ino):
                raise InputError(f"{what} {p} would overwrite {in_what} {in_path}: "
                                 "rcsqualify never writes over a file it reads; choose "
                                 "another output name (nothing was written)")
        for out_what, out_path, out_real, out_ino in seen:
            if real == out_real or (ino is not None and ino == out_ino):
                raise InputError(f"{what} {p} and {out_what} {out_path} are the same file: "
                                 "give each output its own name (nothing was written)")
        seen.append((what, Path(p), real, ino))
