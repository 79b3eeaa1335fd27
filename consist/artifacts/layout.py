"""The on-disk layout of a tracker's metadata folder (``<run_dir>/.consist``).

::

    .consist/
      records/fresh/~journal-*.json run records, a line each, one journal per writing process
      records/fresh/<run_id>.json   one record per run (catalogs of earlier versions)
      records/segments/*.parquet    compacted records (see consist.catalog)
      index/<sig[:2]>/<sig>         cache index: signature -> producing run and outputs
      ids/<id[:2]>/<id>             claims on chosen run ids (and on generated ones where folders take no mark)
      ids/key                       this catalog's key for marking the run folders it creates (see orphans)
      records/corrupt/              unreadable record files, moved aside and reported
      hashmemo/                     stat memo of content hashes
      code/<code_hash>.txt          source text behind code identities
      last/<name hash>              identity components of a step's recent runs (miss reasons)
      schemas/                      captured file schemas
      hot/                          ingested ("hot") rows: a DuckDB file of their own
      links/                        provenance folders whose names carry provenance columns
      db_path                       the catalog file (``db_path``) this folder was last used with

Owns names only: it reads and writes nothing itself.
"""

from __future__ import annotations

from pathlib import Path

from consist.identity.hashing import hash_bytes


class Layout:
    """Paths of one metadata folder.

    The ``*_path`` methods give :class:`~pathlib.Path` objects; the ``*_file`` methods
    give the same locations as strings, for the per-step writes where building paths
    shows in a profile.
    """

    __slots__ = (
        "root", "fresh", "segments", "corrupt", "index", "ids", "hashmemo", "code", "last", "schemas", "hot", "links",
        "db_pointer", "claim_key", "_fresh", "_index", "_ids",
    )  # fmt: skip

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fresh = root / "records" / "fresh"
        self.segments = root / "records" / "segments"
        self.index = root / "index"
        self.ids = root / "ids"
        self.hashmemo = root / "hashmemo"
        self.code = root / "code"
        self.corrupt = root / "records" / "corrupt"
        self.last = root / "last"
        self.schemas = root / "schemas"
        self.hot = root / "hot"
        self.links = root / "links"
        self.db_pointer = root / "db_path"  # text: the catalog file this folder was last used with
        self.claim_key = f"{self.ids}/key"  # text: the key run folders are marked with (catalog.orphans)
        self._fresh, self._index, self._ids = str(self.fresh), str(self.index), str(self.ids)

    def record_path(self, run_id: str) -> Path:
        return Path(self.record_file(run_id))

    def index_path(self, signature: str) -> Path:
        return Path(self.index_file(signature))

    def id_claim_path(self, run_id: str) -> Path:
        return Path(self.id_claim_file(run_id))

    def record_file(self, run_id: str) -> str:
        return f"{self._fresh}/{run_id}.json"

    def index_file(self, signature: str) -> str:
        return f"{self._index}/{signature[:2]}/{signature}"

    def id_claim_file(self, run_id: str) -> str:
        return f"{self._ids}/{hash_bytes(run_id.encode())[:2]}/{run_id}"

    def code_path(self, code_hash: str) -> Path:
        return self.code / f"{code_hash}.txt"
