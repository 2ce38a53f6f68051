"""An HNSW vector index with 64-bit ids, per-id attributes and filtered search in C++.

>>> import numpy as np
>>> from covekit import Filter, VectorIndex
>>> index = VectorIndex(dim=3)
>>> index.add([11, 12, 13], np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float32),
...           attributes=[{"acl": ["user:1"]}, {"acl": ["user:2"]}, {"acl": ["user:1", "user:2"]}])
>>> ids, scores = index.search(np.array([[1, 0.1, 0]], dtype=np.float32), k=2)
>>> ids.tolist(), [round(float(s), 3) for s in scores[0]]
([[11, 13]], [0.995, 0.774])
>>> only_2 = Filter.acl_any(["user:2"])
>>> ids, _ = index.search(np.array([1, 0.1, 0], dtype=np.float32), k=2, filter=only_2)
>>> ids.tolist()
[[13, 12]]

Scores: higher is better for every metric (cosine similarity, inner product, or minus
the squared Euclidean distance for ``"l2"``). Slots with no result hold id
:data:`MISSING_ID` (``2**64 - 1``) and score ``-inf``. See ``docs/retrieval.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from covekit._core import VectorIndex as _VectorIndex
from covekit.data.filters import Filter
from covekit.errors import IndexFileCorrupt, InvalidInput

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy.typing as npt

    IdsLike: TypeAlias = int | Iterable[int] | npt.NDArray[np.integer[Any]]

__all__ = ["MISSING_ID", "Metric", "VectorIndex"]

Metric = Literal["cosine", "ip", "l2"]
MISSING_ID = 2**64 - 1
_METRICS = ("cosine", "ip", "l2")

Attributes = Mapping[str, Any]


def _as_ids(ids: Any) -> npt.NDArray[np.uint64]:
    """ids -> a C-contiguous uint64 array (no copy when it already is one)."""
    if isinstance(ids, np.ndarray):
        arr = ids
    else:
        if isinstance(ids, int | np.integer):
            ids = [ids]
        items = list(ids)
        for x in items:
            if isinstance(x, bool) or not isinstance(x, int | np.integer):
                raise InvalidInput(f"ids must be integers, got {type(x).__name__}")
            if not 0 <= int(x) < 2**64:
                raise InvalidInput(
                    f"ids must be non-negative integers below 2**64 (e.g. Chunk.id), got {int(x)}"
                )
        return np.array([int(x) for x in items], dtype=np.uint64)
    if arr.ndim != 1:
        raise InvalidInput(f"ids must be 1-D (one id per vector), got shape {arr.shape}")
    if arr.dtype.kind == "u":
        return np.ascontiguousarray(arr, dtype=np.uint64)
    if arr.dtype.kind == "i":
        if (arr < 0).any():
            raise InvalidInput("ids must be non-negative integers (64-bit unsigned, e.g. Chunk.id)")
        return np.ascontiguousarray(arr, dtype=np.uint64)
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint64)
    raise InvalidInput(f"ids must be integers, not dtype {arr.dtype}")


def _as_vectors(vectors: Any) -> Any:
    """Lists become float32 arrays; numpy arrays go to C++ as they are (no copy)."""
    if isinstance(vectors, np.ndarray):
        return vectors
    if isinstance(vectors, list | tuple):
        return np.asarray(vectors, dtype=np.float32)
    return vectors


class VectorIndex:
    """HNSW index (hnswlib's graph, covekit's search) of float32 vectors under 64-bit ids.

    Args:
        dim: vector length.
        metric: ``"cosine"`` (vectors normalized on add and query), ``"ip"`` (inner
            product) or ``"l2"`` (score = minus the squared distance).
        M: graph degree (hnswlib's ``M``).
        ef_construction: candidate list size while building.
        seed: seed of the level generator; with ``num_threads=1`` the same adds build the
            same graph.

    Vectors come in as numpy arrays of shape ``(n, dim)``. A C-contiguous ``float32``
    array is read in place (no copy); other float dtypes are cast (one copy); other
    dtypes, the wrong shape, or a non-contiguous array raise
    :class:`~covekit.errors.InvalidInput`.

    Thread safety: :meth:`search` (and the other readers) may run from many threads at
    once and release the GIL; :meth:`add`, :meth:`update`, :meth:`delete` and
    :meth:`set_attributes` take the writer lock (searches wait for them, then go on).

    >>> VectorIndex(dim=384, metric="ip")
    <covekit.VectorIndex dim=384 metric=ip size=0>
    """

    __slots__ = ("_impl",)

    def __init__(
        self,
        dim: int,
        metric: Metric = "cosine",
        *,
        M: int = 16,
        ef_construction: int = 200,
        seed: int = 100,
    ) -> None:
        if metric not in _METRICS:
            raise InvalidInput(f"metric must be 'cosine', 'ip' or 'l2', got {metric!r}")
        for name, value in (
            ("dim", dim),
            ("M", M),
            ("ef_construction", ef_construction),
            ("seed", seed),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (0 if name == "seed" else 1)
            ):
                raise InvalidInput(f"{name} must be a positive int, got {value!r}")
        self._impl = _VectorIndex(dim, metric, M, ef_construction, seed)

    # ---- properties -----------------------------------------------------------------

    @property
    def dim(self) -> int:
        """The vector length."""
        return int(self._impl.dim)

    @property
    def metric(self) -> Metric:
        """``"cosine"``, ``"ip"`` or ``"l2"``."""
        m = str(self._impl.metric)
        if m == "ip":
            return "ip"
        return "l2" if m == "l2" else "cosine"

    @property
    def M(self) -> int:
        """The graph degree."""
        return int(self._impl.M)

    @property
    def ef_construction(self) -> int:
        """The candidate list size used while building."""
        return int(self._impl.ef_construction)

    @property
    def seed(self) -> int:
        """The level generator's seed."""
        return int(self._impl.seed)

    @property
    def ef(self) -> int:
        """The default search ``ef`` (128; a search always uses at least ``k``).

        >>> index = VectorIndex(4)
        >>> index.ef = 200
        >>> index.ef
        200
        """
        return int(self._impl.ef)

    @ef.setter
    def ef(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(f"ef must be an int >= 1, got {value!r}")
        self._impl.ef = value

    @property
    def capacity(self) -> int:
        """Slots allocated; grows by itself (doubling) as vectors are added."""
        return int(self._impl.capacity)

    def __len__(self) -> int:
        return len(self._impl)

    def __contains__(self, id: object) -> bool:
        if (
            isinstance(id, bool)
            or not isinstance(id, int | np.integer)
            or not 0 <= int(id) < MISSING_ID
        ):
            return False
        return bool(self._impl.contains(int(id)))

    def __repr__(self) -> str:
        return f"<covekit.VectorIndex dim={self.dim} metric={self.metric} size={len(self)}>"

    # ---- writes ---------------------------------------------------------------------

    def add(
        self,
        ids: IdsLike,
        vectors: npt.ArrayLike,
        attributes: Sequence[Attributes] | None = None,
        *,
        num_threads: int | None = None,
    ) -> None:
        """Adds new ids with their vectors (and attributes, one dict per id).

        Ids must not be in the index already (use :meth:`update`) and must be unique
        in the batch. Deleted slots are reused; capacity grows by itself. The graph is
        built on ``num_threads`` threads (None: all cores) with the GIL released. A
        batch of more than 16384 vectors goes in in chunks of that size, and Ctrl-C
        stops it between chunks (the chunks already added stay; the ids are checked
        for the whole batch first).
        An attribute dict is ``{"acl": [...], "tags": [...], "fields": {name: value}}``.

        >>> import numpy as np
        >>> index = VectorIndex(2)
        >>> index.add([1, 2], np.eye(2, dtype=np.float32), [{"tags": ["a"]}, {}])
        >>> len(index), 2 in index
        (2, True)
        """
        ids_arr = _as_ids(ids)
        self._impl.add(ids_arr, _as_vectors(vectors), _attr_list(attributes), num_threads)

    def update(
        self, ids: IdsLike, vectors: npt.ArrayLike, attributes: Sequence[Attributes] | None = None
    ) -> None:
        """Replaces the vectors of ids already in the index (and their attributes, if given).

        >>> import numpy as np
        >>> index = VectorIndex(2)
        >>> index.add([1], np.array([[1, 0]], dtype=np.float32))
        >>> index.update([1], np.array([[0, 1]], dtype=np.float32))
        >>> index.vector(1).tolist()
        [0.0, 1.0]
        """
        self._impl.update(_as_ids(ids), _as_vectors(vectors), _attr_list(attributes))

    def set_attributes(self, ids: IdsLike, attributes: Sequence[Attributes]) -> None:
        """Replaces the attributes of ids (e.g. an ACL change) without touching vectors.

        >>> import numpy as np
        >>> index = VectorIndex(2)
        >>> index.add([1], np.array([[1, 0]], dtype=np.float32))
        >>> index.set_attributes([1], [{"acl": ["user:7"]}])
        >>> index.attributes(1)["acl"]
        ['user:7']
        """
        self._impl.set_attributes(_as_ids(ids), _attr_list(attributes))

    def delete(self, ids: IdsLike, *, missing_ok: bool = False) -> int:
        """Deletes ids (their slots are reused by later adds); returns how many were deleted.

        An id that is not in the index raises :class:`~covekit.errors.InvalidInput`
        unless ``missing_ok``.

        >>> import numpy as np
        >>> index = VectorIndex(2)
        >>> index.add([1, 2], np.eye(2, dtype=np.float32))
        >>> index.delete([1]), index.delete([1, 5], missing_ok=True), len(index)
        (1, 0, 1)
        """
        return int(self._impl.delete(_as_ids(ids), missing_ok))

    # ---- reads ------------------------------------------------------------------------

    def search(
        self,
        queries: npt.ArrayLike,
        k: int = 10,
        *,
        ef: int | None = None,
        filter: Filter | None = None,
        num_threads: int | None = 1,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
        """The ``k`` best ids of each query, and their scores, best first.

        ``queries`` has shape ``(nq, dim)`` (a 1-D array is one query). Returns
        ``(ids, scores)``, both ``(nq, k)``; empty slots hold :data:`MISSING_ID` and
        ``-inf``. ``filter`` is applied inside the search: a rejected id is never
        returned. ``ef`` (default :attr:`ef`) trades speed for recall. ``num_threads``
        (None: all cores) splits a batch of queries; 1 runs on the calling thread.

        >>> import numpy as np
        >>> index = VectorIndex(2, metric="l2")
        >>> index.add([1, 2], np.array([[0, 0], [3, 4]], dtype=np.float32))
        >>> ids, scores = index.search(np.array([[3, 3]], dtype=np.float32), k=3)
        >>> ids.tolist()[0][:2], scores.tolist()[0][:2], int(ids[0, 2]) == MISSING_ID
        ([2, 1], [-1.0, -18.0], True)
        """
        ids, scores, _ = self._search(queries, k, ef=ef, filter=filter, num_threads=num_threads)
        return ids, scores

    def _search(
        self,
        queries: npt.ArrayLike,
        k: int,
        *,
        ef: int | None,
        filter: Filter | None,
        num_threads: int | None,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32], dict[str, int]]:
        """search() plus the plan counts {exact, graph, fallback, allowed} (for tests)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidInput(f"k must be an int >= 1, got {k!r}")
        if ef is not None and (isinstance(ef, bool) or not isinstance(ef, int) or ef < 1):
            raise InvalidInput(f"ef must be an int >= 1 or None, got {ef!r}")
        if filter is not None and not isinstance(filter, Filter):
            raise TypeError(
                f"filter must be a covekit.Filter, not {type(filter).__name__} "
                "(build one with Filter.from_dict(...))"
            )
        native_filter = None if filter is None else filter._native
        ids, scores, info = self._impl.search(
            _as_vectors(queries), k, ef or 0, native_filter, num_threads
        )
        return ids, scores, dict(info)

    def attributes(self, id: int) -> dict[str, Any]:
        """The attributes of ``id``: ``{"acl": [...], "tags": [...], "fields": {...}}``.

        >>> import numpy as np
        >>> index = VectorIndex(2)
        >>> index.add([5], np.ones((1, 2), dtype=np.float32), [{"fields": {"lang": "en"}}])
        >>> index.attributes(5)
        {'acl': [], 'tags': [], 'fields': {'lang': 'en'}}
        """
        return dict(self._impl.attributes(int(id)))

    def vector(self, id: int) -> npt.NDArray[np.float32]:
        """The stored vector of ``id`` (unit length under the cosine metric)."""
        return self._impl.vector(int(id))

    def vectors(self, ids: IdsLike) -> npt.NDArray[np.float32]:
        """The stored vectors of ``ids`` as an ``(n, dim)`` float32 array, in that order,
        read in one native call under one lock (a concurrent write shows in all of them
        or in none). Raises :class:`~covekit.errors.InvalidInput` for an id that is not in
        the index.

        >>> import numpy as np, covekit
        >>> index = covekit.VectorIndex(2, metric="l2")
        >>> index.add([7, 8], np.array([[1, 0], [0, 2]], np.float32))
        >>> index.vectors([8, 7]).tolist()
        [[0.0, 2.0], [1.0, 0.0]]
        """
        return self._impl.vectors(_as_ids(ids))

    def ids(self) -> npt.NDArray[np.uint64]:
        """Every id in the index (in slot order).

        >>> import numpy as np
        >>> index = VectorIndex(2)
        >>> index.add([9, 4], np.eye(2, dtype=np.float32))
        >>> sorted(index.ids().tolist())
        [4, 9]
        """
        return self._impl.ids()

    # ---- persistence --------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the index to one file, atomically.

        The bytes go to a temporary file in the same directory, which is fsynced and
        renamed over ``path`` (then the directory is fsynced): a crash leaves either the
        old file or the new one, never a mix. The file has a header (format version,
        dim, metric, count, settings) and an XXH3-64 checksum of its payload.
        """
        self._impl.save(os.fspath(path))

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, dim: int | None = None, metric: Metric | None = None
    ) -> VectorIndex:
        """Reads an index written by :meth:`save`.

        A truncated, corrupt, foreign or newer-format file raises
        :class:`~covekit.errors.IndexFileCorrupt`; so does a file whose ``dim`` or
        ``metric`` differs from the ones given here. A missing file raises
        :class:`FileNotFoundError`.
        """
        p = os.fspath(path)
        if not os.path.exists(p):
            raise FileNotFoundError(f"no index file at {p!r}")
        return cls._checked(_VectorIndex.load(p), dim, metric, p)

    def to_bytes(self) -> bytes:
        """The index in its file format (what :meth:`save` writes)."""
        return bytes(self._impl.to_bytes())

    @classmethod
    def from_bytes(
        cls, data: bytes, *, dim: int | None = None, metric: Metric | None = None
    ) -> VectorIndex:
        """The index of :meth:`to_bytes`'s output; bad bytes raise IndexFileCorrupt.

        >>> import numpy as np
        >>> index = VectorIndex(2)
        >>> index.add([1], np.ones((1, 2), dtype=np.float32))
        >>> len(VectorIndex.from_bytes(index.to_bytes()))
        1
        """
        return cls._checked(_VectorIndex.from_bytes(data), dim, metric, "the data")

    @classmethod
    def _checked(
        cls, impl: _VectorIndex, dim: int | None, metric: Metric | None, where: str
    ) -> VectorIndex:
        if dim is not None and int(impl.dim) != dim:
            raise IndexFileCorrupt(f"{where} holds an index of dim={impl.dim}, expected dim={dim}")
        if metric is not None and str(impl.metric) != metric:
            raise IndexFileCorrupt(
                f"{where} holds an index with metric={impl.metric!r}, expected {metric!r}"
            )
        self = cls.__new__(cls)
        self._impl = impl
        return self

    def __getstate__(self) -> bytes:
        return self.to_bytes()

    def __setstate__(self, state: bytes) -> None:
        self._impl = _VectorIndex.from_bytes(state)


def _attr_list(attributes: Sequence[Attributes] | None) -> list[Attributes] | None:
    if attributes is None:
        return None
    if isinstance(attributes, Mapping):
        raise InvalidInput("attributes must be a list with one dict per id, not one dict")
    return list(attributes)
