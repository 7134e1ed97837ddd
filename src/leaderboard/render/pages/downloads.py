"""The downloads page: every table of the store as Parquet and as gzip-compressed CSV (issue 22, scale: at 100,000
runs the plain CSV copies were 158 MB of the site; gzip keeps them readable by any spreadsheet or `pandas.read_csv`
at about a tenth of the bytes)."""

from __future__ import annotations

import io
import re

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
GZIP_LEVEL = 6


def gzipped(data: bytes) -> bytes:
    """Gzip-compressed with no file name and a fixed timestamp in its header: the same bytes in give the same file."""
    from ..build import fixed_gzip

    buf = io.BytesIO()
    with fixed_gzip(buf, GZIP_LEVEL) as gz:
        gz.write(data)
    return buf.getvalue()


def parquet(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf, compression="zstd", statistics=False)
    return buf.getvalue()


def build(site: Site) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rows = []
    # gzip is most of this page's time (3 of 4 s at 100,000 runs) and zlib lets go of the GIL: the tables' CSV are
    # compressed on two threads while the next table is read
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = {}
        for t in DOWNLOAD_TABLES:
            df = queries.whole_table(site.con, t)
            site.write(f"downloads/{t}.parquet", parquet(df))
            done[t] = pool.submit(gzipped, csv_safe(df).write_csv().encode("utf-8"))
            rows.append([t, df.height, link(f"downloads/{t}.parquet", "Parquet"), link(f"downloads/{t}.csv.gz", "CSV (gzip)")])
        for t, gz in done.items():
            site.write(f"downloads/{t}.csv.gz", gz.result())
    parts = [Safe("<p>Every table of the store, as built for this site. The run files themselves (the source of truth) "
                  "are in the repository's <code>runs/</code> folder. Load the DuckDB file with "
                  "<code>duckdb.connect('leaderboard.duckdb', read_only=True)</code>. The CSV copies are gzip-compressed "
                  "(<code>gunzip runs.csv.gz</code>, or read them as they are: "
                  "<code>pandas.read_csv('runs.csv.gz')</code>, <code>duckdb.read_csv('runs.csv.gz')</code>).</p>"),
             Safe(f'<p>{link("downloads/leaderboard.duckdb", "leaderboard.duckdb")} (tables and views)</p>'),
             table(["Table", "Rows", "Parquet", "CSV"], rows, numeric={1})]
    site.page("downloads.md", "Downloads", block(*parts))
