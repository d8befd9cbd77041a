"""KVault's write combiner (puts not yet handed to the core) and the open-vault registry that
closes vaults still open at interpreter exit, so their pending writes are kept
(docs/COMPATIBILITY.md §4.2: a vault that is garbage-collected or left open loses nothing)."""

from __future__ import annotations

import atexit
import threading
import weakref

__all__ = ["Combiner", "COMBINE_ITEMS", "COMBINE_BYTES", "track", "untrack"]

# A combiner is sent to the core (one cache_put_many_columns call) at this many items or bytes.
COMBINE_ITEMS = 512
COMBINE_BYTES = 256 << 10


class Combiner:
    """Puts not yet handed to the core: ``items`` of (key, kind, payload).

    Puts append without a lock (``list.append`` is atomic) to a list that is never replaced;
    drains hold ``lock`` and delete only the prefix they sent, so an append racing with a drain
    is never lost. ``size`` (bytes appended since the last drain) is a heuristic only.
    """

    __slots__ = ("lock", "items", "size")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[bytes, int, bytes]] = []
        self.size = 0


# Open vaults (id -> weak reference): closed at interpreter exit so pending writes are kept.
# (KVault is unhashable, as a Mapping with __eq__, so a WeakSet cannot hold it.)
_live_vaults: dict[int, weakref.ref] = {}


def track(vault) -> None:
    """Remember an open vault (weakly); its ``_finalize()`` runs at interpreter exit."""
    key = id(vault)

    def forget(ref, key=key):
        if _live_vaults.get(key) is ref:
            del _live_vaults[key]

    _live_vaults[key] = weakref.ref(vault, forget)


def untrack(vault) -> None:
    ref = _live_vaults.get(id(vault))
    if ref is not None and ref() is vault:
        del _live_vaults[id(vault)]


@atexit.register
def _close_live_vaults() -> None:  # exercised by the subprocess tests
    for ref in list(_live_vaults.values()):
        vault = ref()
        if vault is not None:
            vault._finalize()
