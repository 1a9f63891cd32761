"""Model files are pickles, so loading one runs its code: each carries a signed record, and a model loads only
when this installation signed the record and the bytes still match it.

A model file `X` has a sidecar `X.sha256`, `{"sha256": <hex digest of X>, "hmac": <HMAC-SHA256 of that digest
under the signing key>}`. The key is 32 random bytes in `$AUTOML_HOME/model-signing.key` (mode 0600), made on
first use. The sidecar travels with the file (a moved folder, an object store), and a model shipped to another
installation loads there once this key is copied to that installation's AUTOML_HOME.

`automl.artifacts` reads and writes the model files and their sidecars; this module reads only the key.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from automl.errors import ValidationException, field_error
from automl.store import home

SUFFIX = ".sha256"
KEY_BYTES = 32


def sidecar(uri: str) -> str:
    """Where the record of the model file at `uri` lies: beside it, so it moves and ships with it."""
    return uri + SUFFIX


_home: ContextVar[Path | None] = ContextVar("automl_integrity_home", default=None)


@contextmanager
def keys_of(root: Path):
    """Sign and check with the key of the store at `root` (a client of another store than AUTOML_HOME's)."""
    token = _home.set(Path(root))
    try:
        yield
    finally:
        _home.reset(token)


def key_path() -> Path:
    return (_home.get() or home()) / "model-signing.key"


def signing_key() -> bytes:
    """This installation's key, created on first use. The new key is written whole to a private temporary file,
    then linked to its name, which fails if the name exists (O_EXCL's rule): concurrent creators agree on the
    first one published, and no reader ever sees a partly written key."""
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-key-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass  # a concurrent creator's key won: read it
        finally:
            os.unlink(tmp)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise field_error(str(path), f"must hold the {KEY_BYTES}-byte model signing key", f"{len(key)} bytes")
    return key


def _sign(digest: str) -> str:
    return hmac.new(signing_key(), digest.encode(), hashlib.sha256).hexdigest()


def record(data: bytes) -> bytes:
    """The sidecar's content for a model file holding `data`."""
    digest = hashlib.sha256(data).hexdigest()
    return json.dumps({"sha256": digest, "hmac": _sign(digest)}).encode()


def _fields(content: bytes) -> tuple[str, str] | None:
    """(recorded digest, its HMAC), or None where the record is not one this engine writes."""
    try:
        value = json.loads(content)
        digest, mac = value["sha256"], value["hmac"]
    except (ValueError, TypeError, KeyError):
        return None
    return (digest, mac) if isinstance(digest, str) and isinstance(mac, str) else None


def verify(uri: str, data: bytes, content: bytes | None) -> None:
    """Refuse the model file `uri` holding `data` unless `content`, its sidecar's bytes (None: no sidecar), is a
    record signed by this installation's key whose digest is that of `data`."""
    ship = (f"a model must be written by a job of this installation; one from another installation loads once "
            f"that installation's model-signing.key is copied to {key_path()}")
    if content is None:
        raise ValidationException(f"{uri}: not loaded: foreign: no integrity record written by this engine "
                                  f"({sidecar(uri)} is missing); {ship}")
    fields = _fields(content)
    if fields is None or not hmac.compare_digest(_sign(fields[0]).encode(), fields[1].encode()):
        raise ValidationException(f"{uri}: not loaded: foreign: its integrity record {sidecar(uri)} is not signed "
                                  f"by this installation's key (signed by another installation's key, or edited); "
                                  f"{ship}")
    now = hashlib.sha256(data).hexdigest()
    if now != fields[0]:
        raise ValidationException(f"{uri}: not loaded: changed since it was written (recorded sha256 {fields[0]}, "
                                  f"now {now})")
