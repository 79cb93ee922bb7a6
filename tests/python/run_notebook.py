"""Executes a notebook headless with nbclient (Debian's python3-nbclient) and fails if any cell
fails, or if the quickstart's table, progress and plot are missing from the outputs.

Usage: run_notebook.py NOTEBOOK [--expect-image] [--expect-text TEXT ...]
"""
import argparse
import sys
from pathlib import Path

import nbclient
import nbformat


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook", type=Path)
    ap.add_argument("--expect-image", action="store_true")
    ap.add_argument("--expect-text", action="append", default=[])
    ap.add_argument("--timeout", type=int, default=300)
    args = ap.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(args.notebook.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        print(f"{args.notebook}: a cell failed:\n{exc}", file=sys.stderr)
        return 1
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
            data = out.get("data", {})
            texts.append(data.get("text/plain", ""))
            texts.append(data.get("text/html", ""))
            images += "image/png" in data
    blob = "\n".join(t if isinstance(t, str) else "".join(t) for t in texts)
    missing = [t for t in args.expect_text if t not in blob]
    if missing:
        print(f"{args.notebook}: outputs lack {missing}", file=sys.stderr)
        return 1
    if args.expect_image and images == 0:
        print(f"{args.notebook}: no image output (the plot)", file=sys.stderr)
        return 1
    print(f"{args.notebook.name}: {len(nb.cells)} cells executed, {images} image(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
