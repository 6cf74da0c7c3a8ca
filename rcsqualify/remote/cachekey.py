"""The cache key kept apart from the cache (issue #23 item 15).

The store keys are a keyed function of the number (``remote/keys.py``). The key space is
small: every French mobile (10⁸ numbers starting 06, as many 07) was hashed in under five
minutes on a 2-core machine. So whoever holds the key *and* the cache can list the
numbers in it. A key stored inside the cache (``secret.key``, Redis ``rcsq:secret``) is
fine for a cache only its user can read; a cache that others can read (a Redis server, a
directory a CI job saves with ``actions/cache``) must not carry its key.

Where the key comes from, first found wins:

1. ``--cache-key-file PATH`` (env ``RCSQUALIFY_CACHE_KEY_FILE``; in a profile,
   ``cache-key-file = "PATH"``): a regular file outside the cache, 64 hexadecimal
   characters (``openssl rand -hex 32``) or 32 raw bytes (a copied ``secret.key``);
2. a profile's ``cache-key = "env:VAR"``;
3. ``RCSQUALIFY_CACHE_KEY`` (64 hexadecimal characters: a CI secret);
4. the key stored inside the cache.

A store is shared when it is Redis or when the run is in CI (``GITHUB_ACTIONS=true`` or
``GITLAB_CI`` set). A shared store without a key is never given one silently: the run
stops (exit 2) unless ``--cache-key-in-store`` accepts it, and then every run says the
key is inside. A cache whose key was stored in it keeps working, and when it is shared
every run says how to move the key out (``rcsqualify cache move-key``).

The store keeps a *fingerprint* of its key (``key_fingerprint`` in the directory's
``answers.sqlite``, ``rcsq:keyid`` in Redis): an HMAC of a constant under the key, which
identifies a key without revealing it. A key that does not match it is exit 2 naming both
fingerprints: a wrong key would otherwise read as an empty cache and ask every number
again. The key itself is never printed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from rcsqualify.errors import ConfigurationError
from rcsqualify.files import read_secret_file
from rcsqualify.notes import note
from rcsqualify.remote.store import SECRET_BYTES, AnswerStore
from rcsqualify.textsafe import safe_text

KEY_ENV = "RCSQUALIFY_CACHE_KEY"
#: bytes a key file may hold at most (64 hex characters and some white space)
KEY_FILE_MAX = 1024
#: what a cache is opened for: ``create`` (a check: a fresh store gets a key), ``use``
#: (``cache forget``: the key is needed when the store has one), ``inspect`` (``cache
#: info/prune/clear``: no key needed, a wrong one still refused)
Need = Literal["create", "use", "inspect"]
MOVE_HINT = ("move it out with 'rcsqualify cache move-key --to FILE' (a file outside the "
             "cache), then give --cache-key-file FILE or RCSQUALIFY_CACHE_KEY (a CI secret)")


@dataclass(frozen=True)
class KeyOptions:
    """Where this run's cache key comes from (the options; the environment is read when
    the cache is opened)."""

    file: Path | None = None
    #: the key as text, from a profile's ``cache-key = "env:VAR"`` (wiring resolves it)
    text: str | None = None
    in_store: bool = False


#: the length of a fingerprint: anything else in a store is damage
FINGERPRINT_CHARS = 16
_FINGERPRINT = re.compile(f"[0-9a-f]{{{FINGERPRINT_CHARS}}}")
_FINGERPRINT_NAME = "key_fingerprint in answers.sqlite, rcsq:keyid in Redis"


def fingerprint(key: bytes) -> str:
    """A short public name of a key: recognizing it does not reveal it."""
    return hmac.new(key, b"rcsqualify cache key fingerprint",
                    hashlib.sha256).hexdigest()[:FINGERPRINT_CHARS]


def parse_key(data: bytes, where: str, raw: bool = False) -> bytes:
    """64 hexadecimal characters (white space around ignored), or, from a file
    (``raw``), 32 raw bytes (a copied ``secret.key``). 32 bytes that read as text (32
    hexadecimal characters from ``openssl rand -hex 16``, a 32-letter password) are not
    raw bytes: a random key is text by chance about once in 10¹³, so such a value is a
    mistake, refused like any other wrong key rather than taken as a weak one."""
    if raw and len(data) == SECRET_BYTES and not _looks_like_text(data):
        return data
    text = data.strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != SECRET_BYTES:
        raise ConfigurationError(
            f"{where} is not a cache key: it must be 64 hexadecimal characters (make one "
            "with 'openssl rand -hex 32')" + (" or, in a file, 32 raw bytes" if raw else "")
            + " (the value is not shown)")
    return key


def _looks_like_text(data: bytes) -> bool:
    """Printable ASCII and white space only."""
    return all(0x20 <= b < 0x7F or b in b"\t\r\n" for b in data)


def read_key_file(path: Path) -> bytes:
    """A key file: a regular file (never a FIFO or a device, which would hang or never
    end), at most ``KEY_FILE_MAX`` bytes."""
    where = f"--cache-key-file {safe_text(path)}"
    try:
        data = read_secret_file(path, KEY_FILE_MAX)
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot read the cache key "
                                 f"({exc.strerror or type(exc).__name__})") from None
    return parse_key(data, where, raw=True)


def in_ci(environ: Mapping[str, str]) -> bool:
    """A CI job: its caches are readable by whoever can read the repository's caches."""
    return environ.get("GITHUB_ACTIONS") == "true" or bool(environ.get("GITLAB_CI"))


def given_key(options: KeyOptions, environ: Mapping[str, str], cache_dir: Path | None
              ) -> tuple[bytes, str] | None:
    """The key the run was given and where it came from (for messages), or None."""
    if options.file is not None:
        if cache_dir is not None and _inside(options.file, cache_dir):
            raise ConfigurationError(
                f"--cache-key-file {safe_text(options.file)} is inside the cache directory "
                f"{safe_text(cache_dir)}: a key kept with the cache protects nothing; keep "
                "it elsewhere")
        return read_key_file(options.file), f"--cache-key-file {safe_text(options.file)}"
    if options.text is not None:
        return parse_key(options.text.encode(), "the profile's cache-key"), \
            "the profile's cache-key"
    text = environ.get(KEY_ENV, "")
    if text.strip():
        return parse_key(text.encode(), KEY_ENV), KEY_ENV
    return None


def _inside(path: Path, directory: Path) -> bool:
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except (OSError, RuntimeError):
        return False


class Settled(NamedTuple):
    key: bytes | None  # None: none needed and none known
    notes: list[str]  # what the run must say (a key stored inside a shared cache)
    given: bool  # the run was given a key (not the one stored inside)


def settle_key(store: AnswerStore, options: KeyOptions, need: Need,
               environ: Mapping[str, str] = os.environ, cache_dir: Path | None = None
               ) -> Settled:
    """The key of ``store`` for this run and the warnings to show; exit 2 when the key
    given is not the store's, when the store's key is kept outside and was not given, or
    when a shared store would get its key."""
    where = f"the cache at {store.location}"
    given = given_key(options, environ, cache_dir)
    # the fingerprint first: a store's key is stored before its fingerprint is claimed,
    # so a fingerprint read here has its stored key (if any) readable next. The other
    # order let a run starting beside another on a fresh store read "no key" then the
    # other's new fingerprint, and stop as if the key were kept outside
    held = store.key_fingerprint()
    stored = store.stored_secret()
    if held is not None and not _FINGERPRINT.fullmatch(held):
        # an empty one would match no key and let any key in: a wrong key would read as
        # an empty cache; a long one would be quoted in full (not shown, it is not ours)
        raise ConfigurationError(
            f"{where} is damaged: its key fingerprint ({_FINGERPRINT_NAME}) is not one "
            f"({len(held)} characters, not {FINGERPRINT_CHARS} hexadecimal); nothing was "
            "read. Give its key and restore the fingerprint from a backup, or use another "
            "cache")
    shared_why = ("a Redis server" if store.kind == "redis"
                  else "saved by CI" if in_ci(environ) else "")
    if given is not None:
        key, source = given
        mine = fingerprint(key)
        theirs = held or (fingerprint(stored) if stored is not None else None)
        if held is None and need != "inspect":  # another run may have come first
            theirs = store.claim_fingerprint(theirs or mine)
        if theirs is not None and theirs != mine:
            raise ConfigurationError(
                f"{where} was written with another cache key (its key's fingerprint is "
                f"{theirs}, the key from {source} has {mine}): give the cache's own key, "
                "or use another cache; nothing was read")
        notes: list[str] = []
        if stored is not None:
            notes.append(note("cache_key_stored", location=store.location))
        return Settled(key, notes, True)
    if stored is not None:
        mine = fingerprint(stored)
        if held is not None and held != mine:
            raise ConfigurationError(
                f"{where} is damaged: the key stored in it (fingerprint {mine}) is not the "
                f"one its answers were written with ({held}); give that key with "
                "--cache-key-file or RCSQUALIFY_CACHE_KEY")
        if held is None and need != "inspect":
            _claim(store, stored, where)
        return Settled(stored, _inside_note(where, shared_why), False)
    if held is not None:
        if need == "inspect":
            return Settled(None, [], False)
        raise _kept_outside(where, held)
    if need != "create":
        return Settled(None, [], False)
    if shared_why and not options.in_store:
        raise ConfigurationError(
            f"{where} is shared ({shared_why}) and has no key yet: a key stored inside it "
            "would let anyone who can read the cache recover every number in it within "
            "minutes. Give a key kept elsewhere: RCSQUALIFY_CACHE_KEY (64 hexadecimal "
            "characters, 'openssl rand -hex 32', from a CI secret) or --cache-key-file "
            "FILE; or accept the risk with --cache-key-in-store")
    key = store.create_secret()
    _claim(store, key, where)
    return Settled(key, _inside_note(where, shared_why and f"{shared_why}, "
                                     "--cache-key-in-store"), False)


def _kept_outside(where: str, held: str, meanwhile: str = "") -> ConfigurationError:
    return ConfigurationError(
        f"{where} is keyed by a key kept outside it (fingerprint {held}{meanwhile}): give "
        "it with --cache-key-file FILE or RCSQUALIFY_CACHE_KEY")


def _claim(store: AnswerStore, key: bytes, where: str) -> None:
    """Record the fingerprint of ``key``, the key stored inside ``store``, as the store's
    key; exit 2 when another run claimed the store for another key first.

    Two runs opening a brand-new store at the same moment each read "no key, no
    fingerprint": one given a key kept outside (it claims that key's fingerprint), the
    other not (it stores a key inside). The stored key itself is created atomically (one
    wins: ``O_EXCL`` + link, Redis ``SET NX``) and so is the fingerprint (``INSERT OR
    IGNORE``, ``SET NX``), but a run that went on with its stored key after losing the
    fingerprint wrote answers no other run could read, and left a store every later
    run without a key called damaged. The loser stops, as it would have had it come
    second, and removes the stored key no answer was written with."""
    mine = fingerprint(key)
    held = store.claim_fingerprint(mine)
    if held == mine:
        return
    if store.stored_secret() == key:
        store.drop_secret()
    raise _kept_outside(where, held, ", given by another run opening it at the same moment")


def _inside_note(where: str, shared_why: str) -> list[str]:
    """What every run on a shared cache that holds its key says (nothing when the cache
    is not shared: a private cache may hold its key)."""
    if not shared_why:
        return []
    return [f"the cache key is stored inside {where} ({shared_why}): anyone who can read "
            f"the cache can recover every number in it within minutes; {MOVE_HINT}"]
