"""Runs the code blocks of a Markdown page that are marked `<!-- test: c -->` or
`<!-- test: python -->` (the marker on the line before the fence), from the repository root, with
MLRC_HOME in a scratch folder. C blocks are compiled as C99 against the C ABI and run.

Usage: run_examples.py PAGE.md --lang c|python --source-dir DIR --lib-dir DIR [--cc CC] [--cflags ...]
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path


def blocks(page: Path, lang: str):
    text = page.read_text()
    pattern = re.compile(r"<!-- test: " + lang + r" -->\s*\n```" + lang + r"\n(.*?)\n```", re.S)
    for m in pattern.finditer(text):
        line = text[: m.start()].count("\n") + 1
        yield line, m.group(1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("page", type=Path)
    ap.add_argument("--lang", choices=["c", "python"], required=True)
    ap.add_argument("--source-dir", type=Path, required=True)
    ap.add_argument("--lib-dir", type=Path, required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--cflags", default="")
    args = ap.parse_args()
    found = list(blocks(args.page, args.lang))
    if not found:
        print(f"{args.page}: no `<!-- test: {args.lang} -->` blocks", file=sys.stderr)
        return 1
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MLRC_HOME=os.path.join(tmp, "home"), MLRC_LIB_PATH=str(args.lib_dir))
        for line, code in found:
            where = f"{args.page.name}:{line}"
            if args.lang == "c":
                src, exe = Path(tmp) / f"ex{line}.c", Path(tmp) / f"ex{line}"
                src.write_text(code + "\n")
                cmd = [args.cc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", *shlex.split(args.cflags),
                       f"-I{args.source_dir / 'capi' / 'include'}", str(src), "-o", str(exe),
                       f"-L{args.lib_dir}", "-lmlrcopilot", f"-Wl,-rpath,{args.lib_dir}"]
                c = subprocess.run(cmd, capture_output=True, text=True)
                if c.returncode != 0:
                    print(f"{where}: does not compile:\n{c.stderr}", file=sys.stderr)
                    failures += 1
                    continue
                run = [str(exe)]
            else:
                run = ["/usr/bin/python3", "-c", code]
            r = subprocess.run(run, cwd=args.source_dir, env=env, capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                print(f"{where}: exited with {r.returncode}:\n{r.stdout}\n{r.stderr}", file=sys.stderr)
                failures += 1
            else:
                print(f"{where}: ok ({len(r.stdout.splitlines())} lines of output)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
