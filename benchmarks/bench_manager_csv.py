"""How fast does ``read_manager_csv`` read the Manager's CSV exports?

Generates an export the way the Manager writes it (``;``, ISO-8859-1, CRLF, the three
columns read plus player and media names with accents) of ``--rows`` rows, then times,
each in the same process, best of ``--repeat``:

* ``fouryousee``  ``fouryousee_data.read_manager_csv`` (pyarrow's CSV reader, checked);
* ``pandas``      ``pandas.read_csv(sep=";", encoding="latin-1")`` + ``to_datetime`` with the
                  format: what an operator's script does (no checks beyond the parse).

Inputs are generated with numpy and Arrow string kernels (no Python loop per row) under
``benchmarks/_data/`` (gitignored) and reused.

Usage::

    python benchmarks/bench_manager_csv.py                 # 1 M rows
    python benchmarks/bench_manager_csv.py --rows 100000   # a quick proof that it works
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import fouryousee_data as fy

DATA = Path(__file__).parent / "_data"
NAMES = ["Açougue São João", "Padaria Conceição", "Farmácia Independência", "Óptica Ação"]


def generate(rows: int) -> Path:
    """A Manager export of ``rows`` rows over 30 days, 400 players, 300 medias."""
    path = DATA / f"manager-{rows}.csv"
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    seconds = np.sort(rng.integers(0, 30 * 86400, rows)) + 1_706_745_600  # from 2024-02-01
    stamps = pc.strftime(pa.array(seconds.astype("datetime64[s]")), format="%d/%m/%Y %H:%M:%S")
    players = pa.array(rng.integers(1, 401, rows)).cast(pa.string())
    medias = pa.array(rng.integers(1, 301, rows)).cast(pa.string())
    names = pa.array(np.array(NAMES, dtype=object)[rng.integers(0, len(NAMES), rows)])
    media_names = pc.binary_join_element_wise("Promoção nº ", medias, "")
    line = pc.binary_join_element_wise(stamps, players, names, medias, media_names, ";")
    header = "Data e Hora;ID do Player;Nome do Player;ID do Conteúdo;Nome do Conteúdo"
    text = header + "\r\n" + "\r\n".join(line.to_pylist()) + "\r\n"
    path.write_bytes(text.encode("latin-1"))
    return path


def read_fouryousee(path: Path) -> int:
    return len(fy.read_manager_csv(path))


def read_pandas(path: Path) -> int:
    df = pd.read_csv(path, sep=";", encoding="latin-1")
    df["Data e Hora"] = pd.to_datetime(df["Data e Hora"], format="%d/%m/%Y %H:%M:%S")
    return len(df)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = generate(args.rows)
    size = path.stat().st_size / 1e6
    print(f"{args.rows:,} rows, {size:.1f} MB ({path.name})")
    for name, read in (("fouryousee", read_fouryousee), ("pandas", read_pandas)):
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            n = read(path)
            best = min(best, time.perf_counter() - t0)
        assert n == args.rows, (name, n)
        print(f"{name:>11}: {best:6.2f} s  {args.rows / best / 1e6:5.2f} M rows/s")


if __name__ == "__main__":
    main()
