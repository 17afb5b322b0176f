"""Scores by amount of motion: each test set split into thirds by how far apart its input frames are."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

THIRDS = ("most motion", "middle", "least motion")


def read_scores(paths: list[str | Path]) -> dict[str, dict[tuple[str, str], float]]:
    """PSNR by method, then by (benchmark, triplet id), from evaluate.py's per_triplet.csv files (later files win)."""
    scores: dict[str, dict[tuple[str, str], float]] = {}
    for path in paths:
        with open(path) as f:
            for row in csv.DictReader(f):
                scores.setdefault(row["method"], {})[row["benchmark"], row["id"]] = float(row["psnr"])
    return scores


def motion_thirds(scores: dict[str, dict[tuple[str, str], float]], *, methods: list[str], proxy: str = "average",
                  reference: str | None = None) -> list[dict]:
    """Mean PSNR of each method on each third of each benchmark, the thirds cut by the ``proxy`` method's PSNR (for
    'average', low PSNR = the two inputs differ most = most motion). Only triplets every method scored count."""
    missing = [m for m in [proxy, *methods] if m not in scores]
    if missing:
        raise ValueError(f"no per-triplet scores for {missing}; have {sorted(scores)}")
    keys = set(scores[proxy]).intersection(*(scores[m] for m in methods))
    rows = []
    for bench in sorted({k[0] for k in keys}):
        ordered = sorted((k for k in keys if k[0] == bench), key=lambda k: scores[proxy][k])
        n = len(ordered)
        for name, part in zip(THIRDS, (ordered[: n // 3], ordered[n // 3: 2 * n // 3], ordered[2 * n // 3:])):
            if not part:
                continue
            row = {"benchmark": bench, "third": name, "n": len(part),
                   proxy: statistics.mean(scores[proxy][k] for k in part)}
            row.update({m: statistics.mean(scores[m][k] for k in part) for m in methods})
            if reference:
                row[f"{methods[0]} - {reference}"] = row[methods[0]] - row[reference]
            rows.append(row)
    return rows


def motion_table(rows: list[dict]) -> str:
    cols = [c for c in rows[0] if c not in ("benchmark", "third", "n")]
    lines = ["| set | third | n | " + " | ".join(cols) + " |", "|" + " --- |" * (len(cols) + 3)]
    for r in rows:
        vals = " | ".join(f"{r[c]:+.2f}" if " - " in c else f"{r[c]:.2f}" for c in cols)
        lines.append(f"| {r['benchmark']} | {r['third']} | {r['n']} | {vals} |")
    return "\n".join(lines)
