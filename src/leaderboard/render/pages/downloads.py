"""The downloads page: every table of the store as Parquet and as gzip-compressed CSV (issue 22, scale: at 100,000
runs the plain CSV copies were 158 MB of the site; gzip keeps them readable by any spreadsheet or `pandas.read_csv`
at about a tenth of the bytes)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl

from .. import queries
from ..html import Safe, block, link, table
from ..site import Site

# Spreadsheets run a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...): in CSV
# downloads such text cells get a leading apostrophe, as OWASP recommends. Parquet and DuckDB keep the raw text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_safe(df: pl.DataFrame) -> pl.DataFrame:
    pattern = "^[" + re.escape("".join(FORMULA_START)) + "]"
    return df.with_columns(
        pl.when(pl.col(c).str.contains(pattern)).then("'" + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c, dtype in df.schema.items() if dtype == pl.String
    )


DOWNLOAD_TABLES = queries.DOWNLOAD_TABLES
# ISA-L's level 2 of 0-3 (python-isal): the 158 MB of CSV of a 100,000-run site in 0.22 s and 30.4 MB, where zlib's level
# 6 took 2.5 s for 26.3 MB; the downloads' worker is the longest part of a rebuild's render (issue 22, scale). Any gzip
# reader reads it.
GZIP_LEVEL = 2


def gzipped(data: bytes) -> bytes:
    """Gzip-compressed with no file name and a fixed timestamp in its header: the same bytes in give the same file."""
    from isal import igzip

    from ..build import FIXED_EPOCH

    return igzip.compress(data, GZIP_LEVEL, mtime=int(FIXED_EPOCH))


def parquet(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf, compression="zstd", statistics=False)
    return buf.getvalue()


STORE_COPY = "downloads/leaderboard.duckdb"  # the store's copy readers download (build.copy_store)
STORE_COPY_KEY = "store-copy.key"  # in the work folder's cache: what the copy was made from (store_key)


def store_key(con, code_version: str) -> str:
    """What the store's copy is made from: every run file's path and sha256 (the store holds no more) and the code."""
    from ..site import digest

    return digest([code_version, sorted(queries.run_file_shas(con).items())])


EXPORT_KEY = "downloads.key"  # in the work folder's cache: what the exported files were made from, their rows and sizes


def export(db: str, out: str, key_file: str | None = None, code_version: str = "",
           bundle_cache: str | None = None, export_key_file: str | None = None) -> list[tuple[str, int]]:
    """_export() of the store at ``db``, opened read-only: what a worker process runs (Pending); with ``key_file``,
    then the store's copy (build.copy_store: 2 s of a rebuild's main process at 100,000 runs, issue 22, scale); with
    ``bundle_cache``, then the Vega script the site serves, where that cache has none yet (build.vega_bundle: 2 s of a
    fresh build's main process). With ``export_key_file``, the export is skipped where the files it made last are
    still there and were made from the same store (store_key) by the same writers (_exported)."""
    import duckdb

    con = duckdb.connect(db, read_only=True)
    try:
        key = store_key(con, code_version) if key_file or export_key_file else None
        exported_key = _export_key(key) if export_key_file else None
        rows = _exported(Path(export_key_file), exported_key, out) if export_key_file else None
        if rows is None:
            rows = _export(con, out)
            if export_key_file:
                _remember_export(Path(export_key_file), exported_key, out, rows)
    finally:
        con.close()
    if key_file:
        from ..build import copy_store

        copy_store(Path(db), Path(out) / STORE_COPY, Path(key_file), key)
    if bundle_cache:
        import contextlib

        from ..build import vega_bundle

        with contextlib.suppress(Exception):  # the main process makes it then, and says what failed
            vega_bundle(Path(bundle_cache))
    return rows


def _export_key(key: str) -> str:
    """What the exported files depend on: the store (store_key: the run files and the code) and the libraries that
    write them (Parquet: polars, in the code's key; gzip: ISA-L)."""
    import isal

    from ..site import digest

    return digest([key, getattr(isal, "__version__", "unknown"), GZIP_LEVEL])


def _export_files(out: str | Path) -> list[Path]:
    folder = Path(out) / "downloads"
    return [folder / f"{t}.{ext}" for t in DOWNLOAD_TABLES for ext in ("parquet", "csv.gz")]


def _exported(key_file: Path, key: str, out: str | Path) -> list[tuple[str, int]] | None:
    """The rows of each table as the last export left them, where it was made from ``key`` and each of its files is
    there with the size it had (an unchanged rebuild exported the 100,000-run store again: 4-5 s of the downloads'
    worker, which the pages then waited for); else None. The builder's own file, read strictly."""
    import os
    import stat

    import orjson

    from ...fsutil import InputError, read_regular

    try:
        kept = orjson.loads(read_regular(key_file, 1 << 20))
    except (InputError, OSError, ValueError):
        return None
    files = _export_files(out)
    if not (isinstance(kept, dict) and kept.get("key") == key and isinstance(kept.get("rows"), list)
            and isinstance(kept.get("sizes"), list) and len(kept["sizes"]) == len(files)
            and [r[0] if isinstance(r, list) and len(r) == 2 else None for r in kept["rows"]] == list(DOWNLOAD_TABLES)
            and all(type(r[1]) is int and r[1] >= 0 for r in kept["rows"])):
        return None
    for path, size in zip(files, kept["sizes"], strict=True):
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return None
    return [(t, n) for t, n in kept["rows"]]


def _remember_export(key_file: Path, key: str, out: str | Path, rows: list[tuple[str, int]]) -> None:
    import orjson

    from ...fsutil import write_atomic

    try:
        sizes = [p.stat().st_size for p in _export_files(out)]
        key_file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(key_file, orjson.dumps({"key": key, "rows": [list(r) for r in rows], "sizes": sizes}), sync=False)
    except OSError:
        key_file.unlink(missing_ok=True)


def _export(con, out: str | Path) -> list[tuple[str, int]]:
    """Every download table of the store as Parquet and gzip-compressed CSV under ``out``/downloads/, each file written
    only where its bytes changed (fsutil.replace_if_changed). Returns (table, rows) in page order."""
    from concurrent.futures import ThreadPoolExecutor

    from ...fsutil import replace_if_changed

    folder = Path(out) / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    # gzip is most of this page's time (3 of 4 s at 100,000 runs) and zlib lets go of the GIL: the tables' CSV are
    # compressed on two threads while the next table is read
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = {}
        for t in DOWNLOAD_TABLES:
            df = queries.whole_table(con, t)
            replace_if_changed(folder / f"{t}.parquet", parquet(df))
            done[t] = pool.submit(gzipped, csv_safe(df).write_csv().encode("utf-8"))
            rows.append((t, df.height))
        for t, gz in done.items():
            replace_if_changed(folder / f"{t}.csv.gz", gz.result())
    return rows


# from this many runs on, the downloads are exported in a worker process: one costs about two CPU seconds to start (its
# imports), which a small site's whole export does not take (the demo's 600 runs: 0.1 s)
WORKER_FROM_RUNS = 20_000


class Pending:
    """The downloads being exported: in a worker process of their own where there are two cores or more and the
    store's path is known (issue 22, scale: 4 s of a rebuild at 100,000 runs that the other pages need not wait for),
    else here, at once. The worker then converts charts (``helper``). ``close()`` waits for it (build_pages calls it
    whatever happens, once the charts are written)."""

    def __init__(self, site: Site, workers: int) -> None:
        self._pool = None
        big = workers >= 2 and site.db is not None and queries.run_files(site.con) >= WORKER_FROM_RUNS
        # the worker makes the store's copy too (the render makes it otherwise, once its connection is closed)
        self.copies_store = big and site.cache is not None
        if big:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            key_file = str(site.cache.parent / STORE_COPY_KEY) if self.copies_store else None
            self._pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
            bundle = str(site.cache.parent) if site.cache is not None else None
            exported = str(site.cache.parent / EXPORT_KEY) if site.cache is not None else None
            self._future = self._pool.submit(export, str(site.db), str(site.out), key_file, site.code_version, bundle,
                                             exported)
        else:
            self._rows = _export(site.con, site.out)

    def result(self) -> list[tuple[str, int]]:
        if self._pool is not None:
            self._rows = self._future.result()
        return self._rows

    @property
    def helper(self):
        """The worker, to convert charts once the export is done (Site.svg_helper); None without one."""
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def start(site: Site, workers: int | None = None) -> Pending:
    from ...parallel import cpu_count

    return Pending(site, cpu_count() if workers is None else workers)


def build(site: Site, pending: Pending | None = None) -> None:
    """The downloads page, once its files are exported (``pending``: from start(); none: exported here)."""
    exported = (pending or Pending(site, workers=1)).result()
    rows = []
    for t, n in exported:
        site.written.update(dict.fromkeys((f"downloads/{t}.parquet", f"downloads/{t}.csv.gz")))
        rows.append([t, n, link(f"downloads/{t}.parquet", "Parquet"), link(f"downloads/{t}.csv.gz", "CSV (gzip)")])
    parts = [Safe("<p>Every table of the store, as built for this site. The run files themselves (the source of truth) "
                  "are in the repository's <code>runs/</code> folder. Load the DuckDB file with "
                  "<code>duckdb.connect('leaderboard.duckdb', read_only=True)</code>. The CSV copies are gzip-compressed "
                  "(<code>gunzip runs.csv.gz</code>, or read them as they are: "
                  "<code>pandas.read_csv('runs.csv.gz')</code>, <code>duckdb.read_csv('runs.csv.gz')</code>).</p>"),
             Safe(f'<p>{link("downloads/leaderboard.duckdb", "leaderboard.duckdb")} (tables and views)</p>'),
             table(["Table", "Rows", "Parquet", "CSV"], rows, numeric={1})]
    site.page("downloads.md", "Downloads", block(*parts))
