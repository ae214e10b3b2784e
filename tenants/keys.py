"""Data keys: envelope encryption, so that destroying one key shreds every copy of a secret.

A secret sealed directly with a master key stays readable in every old row version — dead
tuples, WAL, replicas, database backups — for as long as that master key lives. A secret sealed
with a data key that lives *outside the database* is unreadable in all of them once that data
key is destroyed. (Keeping the wrapped data key in a table would not do: the table's own old row
versions would still hold it, openable with the live master key.)

- A **scope** names what a key protects: ``secrets/{model label}/{pk}`` for one row's secrets
  (``tenants.fields``); backups may add their own (``snapshots/tenant-{id}``, issue 22).
- The **key store** is the django-storages alias ``STORAGES["keys"]`` (a folder under
  ``var/keys``, or its own S3 bucket *without* versioning or replication): one object per data
  key and key-encryption key (KEK), ``{scope}/{key id}/{kek id}.json``, holding the wrapped key.
  Re-wrapping writes the new object before deleting the old one, so a reader always finds one.
- The **registry** (``tenants.models.DataKey``) says which key is active for a scope, which KEK
  wraps it and whether it was destroyed; it holds no key material.
- The **cache**: unwrapped keys stay in process memory for ``DATA_KEY_CACHE_SECONDS`` (300 by
  default), so decrypting on a hot path (token refresh) reads neither the store nor the
  database. A key destroyed by another process lives on in this one's memory at most that long;
  the destroying process forgets it at once. Sealing asks the registry (one indexed query) which
  key is active, so nothing is ever sealed with a key whose destruction has committed.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import IntegrityError, models, transaction
from django.dispatch import receiver
from django.utils import timezone

from tenants import crypto, keys_wrapping

logger = logging.getLogger(__name__)

STORAGE_ALIAS = "keys"
_SCOPE = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*")
_CACHE_MAX_KEYS = 10_000


@dataclass(frozen=True)
class ActiveKey:
    """The key that seals new values of a scope."""

    id: str  # the registry id as 32 hex digits; what a v2 token names
    key: bytes = field(repr=False)


def _registry() -> type[models.Model]:
    # By name: tenants.models imports tenants.fields, which imports this module.
    return apps.get_model("tenants", "DataKey")


def check_scope(scope: str) -> str:
    if len(scope) > 200 or not _SCOPE.fullmatch(scope):
        raise ValueError(f"not a data-key scope: {scope!r}")
    return scope


# --------------------------------------------------------------------------- cache

_lock = threading.Lock()
_cache: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()


def _cached(scope: str, key_id: str) -> bytes | None:
    with _lock:
        entry = _cache.get((scope, key_id))
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del _cache[(scope, key_id)]
            return None
        return entry[0]


def _remember(scope: str, key_id: str, key: bytes) -> None:
    ttl = settings.DATA_KEY_CACHE_SECONDS
    if ttl <= 0:
        return
    with _lock:
        _cache[(scope, key_id)] = (key, time.monotonic() + ttl)
        _cache.move_to_end((scope, key_id))
        while len(_cache) > _CACHE_MAX_KEYS:
            _cache.popitem(last=False)


def forget_cached_keys(*, scope: str | None = None) -> None:
    """Drop unwrapped keys from this process's memory (all, or one scope's)."""
    with _lock:
        for cached in [k for k in _cache if scope is None or k[0] == scope]:
            del _cache[cached]


@receiver(setting_changed)
def _forget_on_new_settings(*, setting: str, **kwargs) -> None:
    if setting in {"FIELD_ENCRYPTION_KEYS", "KMS_KEYS", "STORAGES", "DATA_KEY_CACHE_SECONDS"}:
        forget_cached_keys()


# --------------------------------------------------------------------------- key store


def _storage():
    return storages[STORAGE_ALIAS]


def _object_name(scope: str, key_id: str, kek_id: str) -> str:
    return f"{scope}/{key_id}/{kek_id}.json"


def _context(scope: str, key_id: str) -> dict[str, str]:
    # Bound into the wrapping: a wrapped key moved to another scope or id does not unwrap.
    return {"scope": scope, "data_key": key_id}


def _write(name: str, kek_id: str, wrapped: bytes) -> None:
    payload = json.dumps({"kek": kek_id, "wrapped": base64.b64encode(wrapped).decode()})
    storage = _storage()
    if storage.exists(name):  # a re-wrap resumed after a crash; nobody reads this name yet
        storage.delete(name)
    saved = storage.save(name, ContentFile(payload.encode()))
    if saved != name:
        storage.delete(saved)
        raise RuntimeError(f"key store wrote {saved!r} instead of {name!r}")


def _read(name: str) -> bytes | None:
    """The wrapped key stored under ``name``, or None."""
    try:
        with _storage().open(name, "rb") as stored:
            data = json.loads(stored.read())
        return base64.b64decode(data["wrapped"], validate=True)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        # Half-written by a concurrent re-wrap, or damaged: the caller tries the other names.
        return None


def _stored_kek_ids(scope: str, key_id: str) -> list[str]:
    try:
        _, files = _storage().listdir(f"{scope}/{key_id}")
    except FileNotFoundError:
        return []
    return sorted(name.removesuffix(".json") for name in files if name.endswith(".json"))


def _delete_objects(scope: str, key_id: str) -> int:
    storage = _storage()
    deleted = 0
    for kek_id in _stored_kek_ids(scope, key_id):
        storage.delete(_object_name(scope, key_id, kek_id))
        deleted += 1
    return deleted


# --------------------------------------------------------------------------- keys


def data_key(scope: str, key_id: str) -> bytes:
    """The plaintext data key ``key_id`` of ``scope``: from this process's cache, else unwrapped
    from the key store. ``crypto.DecryptionError`` if it was destroyed or no configured KEK
    wraps it."""
    cached = _cached(scope, key_id)
    if cached is not None:
        return cached
    key = _load(scope, key_id)
    _remember(scope, key_id, key)
    return key


def _load(scope: str, key_id: str) -> bytes:
    wrapper = keys_wrapping.wrapper(scope)
    context = _context(scope, key_id)
    failure = None
    for _ in range(2):  # a concurrent re-wrap may move the object between two reads: look twice
        for kek_id in wrapper.key_ids():
            wrapped = _read(_object_name(scope, key_id, kek_id))
            if wrapped is None:
                continue
            try:
                return wrapper.unwrap(kek_id, wrapped, context=context)
            except crypto.DecryptionError as exc:
                failure = exc
    if isinstance(failure, keys_wrapping.KmsKeyUnavailable):
        raise failure  # callers tell a disabled (customer-managed) key by its type
    if failure is not None:
        raise crypto.DecryptionError(f"data key {key_id} of {scope}: {failure}")
    stored = _stored_kek_ids(scope, key_id)
    if stored:
        raise crypto.DecryptionError(
            f"data key {key_id} of {scope} is wrapped only by KEK ids {stored}, none of which is "
            "in FIELD_ENCRYPTION_KEYS"
        )
    raise crypto.DecryptionError(
        f"data key {key_id} of {scope} is not in the key store: it was destroyed (a purge), or "
        "the key store is not the one this database was written with"
    )


def active_key(scope: str, *, registry: type[models.Model] | None = None) -> ActiveKey:
    """The key that seals new values of ``scope``, created (and stored) on first use.

    Call it inside the transaction that writes the sealed value: the new key's registry row
    commits or rolls back with it. ``registry`` lets a data migration pass its historical
    ``DataKey`` model."""
    check_scope(scope)
    registry = registry or _registry()
    found = registry.objects.filter(scope=scope, state="active").values_list("id", flat=True)
    key_id = found.first()
    if key_id is not None:
        return ActiveKey(key_id.hex, data_key(scope, key_id.hex))
    new_id = uuid.uuid4()
    context = _context(scope, new_id.hex)
    key, kek_id, wrapped = keys_wrapping.wrapper(scope).generate(context=context)
    # Stored before it is registered: a registered key is always in the store.
    _write(_object_name(scope, new_id.hex, kek_id), kek_id, wrapped)
    try:
        with transaction.atomic():
            registry.objects.create(id=new_id, scope=scope, kek_id=kek_id, state="active")
    except IntegrityError:
        # Another process sealed this scope's first value at the same moment: use its key.
        _delete_objects(scope, new_id.hex)
        key_id = found.first()
        if key_id is None:
            raise
        return ActiveKey(key_id.hex, data_key(scope, key_id.hex))
    _remember(scope, new_id.hex, key)
    return ActiveKey(new_id.hex, key)


def destroy_scope(scope: str) -> list[str]:
    """Destroy every data key of ``scope`` once the caller's transaction commits: the registry
    rows become ``destroying`` now, the store objects are deleted on commit (then ``destroyed``).
    If the store fails then, the rows stay ``destroying`` and ``finish_destruction`` (run by
    ``rotate_encryption_keys``) completes it. Returns the key ids."""
    check_scope(scope)
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("destroy_scope must run inside the transaction that shreds the values")
    registry = _registry()
    doomed = registry.objects.select_for_update().filter(scope=scope).exclude(state="destroyed")
    ids = [key_id.hex for key_id in doomed.values_list("id", flat=True)]
    registry.objects.filter(scope=scope, state__in=["active", "retired"]).update(
        state="destroying", destroy_requested_at=timezone.now()
    )
    forget_cached_keys(scope=scope)
    if ids:
        transaction.on_commit(lambda: _finish_after_commit(scope))
    return ids


def _finish_after_commit(scope: str) -> None:
    try:
        finish_destruction(scope=scope)
    except Exception:
        # The purge itself committed; the key waits as "destroying" for the next attempt.
        logger.exception(
            "data keys of %s are not yet deleted from the key store; "
            "manage.py rotate_encryption_keys finishes it",
            scope,
        )


def finish_destruction(*, scope: str | None = None) -> list[str]:
    """Delete from the key store every key whose destruction committed (``destroying``), mark it
    ``destroyed`` and audit it. Safe to run twice. Returns the ids destroyed now."""
    from tenants.audit import record_event  # tenants.audit imports tenants.models (see above)

    registry = _registry()
    pending = registry.objects.filter(state="destroying")
    if scope is not None:
        pending = pending.filter(scope=scope)
    done: dict[str, list[str]] = {}
    deleted: dict[str, int] = {}
    for key_id, key_scope in pending.order_by("destroy_requested_at").values_list("id", "scope"):
        objects = _delete_objects(key_scope, key_id.hex)
        forget_cached_keys(scope=key_scope)
        changed = registry.objects.filter(pk=key_id, state="destroying").update(
            state="destroyed", destroyed_at=timezone.now()
        )
        if changed:
            done.setdefault(key_scope, []).append(key_id.hex)
            deleted[key_scope] = deleted.get(key_scope, 0) + objects
    if done:
        with transaction.atomic():
            for key_scope, ids in done.items():
                summary = {"scope": key_scope, "data_keys": ids, "objects": deleted[key_scope]}
                record_event(actor=None, action="data_keys.destroyed", target=None, summary=summary)
        logger.info("destroyed %d data keys in the key store", sum(map(len, done.values())))
    return [key_id for ids in done.values() for key_id in ids]


def rewrap(scope: str, key_id: str, *, kek_id: str) -> str:
    """Wrap data key ``key_id`` (registered under ``kek_id``) with the KEK that wraps new keys
    and store that copy; returns its KEK id. The old copy stays until ``drop_wrapped`` (once the
    registry names the new one), so readers find one at every moment. Read from the store, not
    the cache, so a key deleted there is never written back. Resumable: a copy an interrupted
    run wrote is simply written again."""
    wrapper = keys_wrapping.wrapper(scope)
    key = _load(scope, key_id)
    new_kek_id, wrapped = wrapper.wrap(key, context=_context(scope, key_id))
    if new_kek_id != kek_id:
        _write(_object_name(scope, key_id, new_kek_id), new_kek_id, wrapped)
    return new_kek_id


def drop_wrapped(scope: str, key_id: str, *, kek_id: str) -> None:
    """Delete the copy of a data key wrapped by ``kek_id`` (after a re-wrap)."""
    _storage().delete(_object_name(scope, key_id, kek_id))


def stored_keys(prefix: str) -> Iterator[tuple[str, str]]:
    """``(scope, key id)`` of every key in the store under ``prefix`` (one listing per folder)."""
    storage = _storage()

    def walk(path: str) -> Iterator[tuple[str, str]]:
        try:
            dirs, files = storage.listdir(path)
        except FileNotFoundError:
            return
        if "/" in path and any(name.endswith(".json") for name in files):
            scope, key_id = path.rsplit("/", 1)
            yield scope, key_id
        for name in sorted(dirs):
            yield from walk(f"{path}/{name}")

    yield from walk(check_scope(prefix))


def last_written(scope: str, key_id: str) -> datetime | None:
    """When a stored copy of the key was last written (None: no copy)."""
    storage = _storage()
    names = [_object_name(scope, key_id, kek_id) for kek_id in _stored_kek_ids(scope, key_id)]
    return max((storage.get_modified_time(name) for name in names), default=None)


def delete_stored(scope: str, key_id: str) -> int:
    """Delete every stored copy of a key no registry row keeps alive; returns how many."""
    forget_cached_keys(scope=scope)
    return _delete_objects(scope, key_id)
