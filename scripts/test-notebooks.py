"""Execute Jupyter notebooks headless with nbclient and fail on the first error in each.

Called by scripts/test-notebooks.sh (which installs the Deno kernelspec and picks the Python that
has nbclient). Each notebook is read from notebooks/, executed with its own folder as the kernel's
working directory (so `../src/...` imports resolve), and the executed copy is written to OUT_DIR.
Every notebook is run even when an earlier one fails, and the failing notebook, cell number and
error are printed at the end.

The committed notebooks hold their outputs, so they read on GitHub without Jupyter. --write-back
(`pnpm notebooks:run`) writes each notebook that ran without error back in place with its outputs,
the volatile parts made stable: no per-cell timing metadata, execution counts 1, 2, ... in order,
temporary folders and the checkout's absolute path replaced, durations ("24.4 s") replaced by
"... s", consecutive writes to a stream merged. Without --write-back, a notebook whose committed plots
no longer match what it draws (another number or kind of images) fails, so stale outputs are caught
in CI.

usage: test-notebooks.py --out OUT_DIR --kernel NAME --cell-timeout SECONDS [--write-back] NOTEBOOK...
"""

import argparse
import os
import re
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:100]
    return "(empty cell)"


def error_outputs(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DURATION = re.compile(r"\b\d+(?:\.\d+)? (ms|s)\b")


def stable_text(text: str) -> str:
    """Text output without what changes from run to run or machine to machine: paths, durations."""
    for tmp in {tempfile.gettempdir(), "/tmp"}:
        # Deno.makeTempDirSync({prefix: "r1lab-nb02-"}) -> $TMPDIR/r1lab-nb02-<random>
        text = re.sub(re.escape(tmp) + r"/(r1lab-[\w-]*?)-?[0-9a-f]{8,}", r"$TMPDIR/\1", text)
    text = text.replace(ROOT + "/", "").replace(ROOT, ".")
    return DURATION.sub(lambda m: f"... {m.group(1)}", text)


def stabilize(nb) -> None:
    """Make an executed notebook's outputs stable for committing (see the module's docstring)."""
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        # Consecutive writes to one stream as one output (the kernel splits them by timing).
        merged = []
        for out in cell.outputs:
            prev = merged[-1] if merged else None
            if out.output_type == "stream" and prev is not None and prev.output_type == "stream" and prev.name == out.name:
                prev["text"] += out["text"]
            else:
                merged.append(out)
        cell.outputs = merged
        for out in cell.outputs:
            if out.get("execution_count") is not None:
                out["execution_count"] = count
            if out.output_type == "stream":
                out["text"] = stable_text(out["text"])
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in out.get("data", {}):
                    out["data"][mime] = stable_text(out["data"][mime])


def plots(nb) -> list:
    """The images a notebook shows, in order, by kind (e.g. ["image/png", "image/png"]). Only these
    are compared with the committed notebook: streams and execute results are left out because the
    kernel may split the one and, now and then, report the other after the cell has finished."""
    return [
        k
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        for k in sorted(o.get("data", {}))
        if k.startswith("image/")
    ]


def run_one(path: str, out_dir: str, kernel: str, cell_timeout: int, write_back: bool) -> str | None:
    """Execute one notebook; return None on success, else a message naming the cell and the error."""
    nb = nbformat.read(path, as_version=4)
    committed = plots(nb)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name=kernel,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    running = {"index": None}  # the cell being executed, for errors that leave no error output (timeouts)

    def on_cell_start(cell, cell_index):
        running["index"] = cell_index

    client.on_cell_start = on_cell_start
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        failure = e
    finally:
        target = os.path.join(out_dir, os.path.basename(path))
        nbformat.write(nb, target)

    def where(i: int) -> str:
        return f"code cell {code_cells.index(i) + 1} (cell {i}: {first_line(nb.cells[i].source)})"

    # The failing cell: the first code cell with an error output.
    for i in code_cells:
        errs = error_outputs(nb.cells[i])
        if errs:
            e = errs[0]
            tb = "\n".join(e.get("traceback", []))[-1500:]
            return f"{where(i)}: {e.get('ename')}: {e.get('evalue')}\n{tb}"
    if failure is not None:
        i = running["index"]
        at = where(i) if i in code_cells else "notebook"
        if isinstance(failure, CellTimeoutError):
            return f"{at}: no result within {cell_timeout} s (R1LAB_NOTEBOOK_CELL_TIMEOUT)"
        return f"{at}: {type(failure).__name__}: {str(failure).strip()[-1500:]}"
    # Every code cell must have run (a kernel that dies quietly leaves cells without a count).
    for i in code_cells:
        if nb.cells[i].get("execution_count") is None:
            return f"{where(i)}: did not run"
    stabilize(nb)
    if write_back:
        nbformat.write(nb, path)
        return None
    now = plots(nb)
    if committed != now:
        return (
            f"the committed outputs are stale: {len(committed)} plots committed, {len(now)} drawn now "
            f"({committed} against {now}); run `pnpm notebooks:run` and commit the notebook"
        )
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the executed copies")
    ap.add_argument("--kernel", default="deno")
    ap.add_argument("--cell-timeout", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="say where the executed copies are (OUT_DIR is kept)")
    ap.add_argument("--write-back", action="store_true", help="write each executed notebook back in place")
    ap.add_argument("notebooks", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    failures = []
    for path in a.notebooks:
        name = os.path.basename(path)
        print(f"notebook {name} ...", flush=True)
        t0 = time.time()
        try:
            msg = run_one(path, a.out, a.kernel, a.cell_timeout, a.write_back)
        except Exception as e:  # a notebook that cannot be read or a kernel that cannot start
            msg = f"{type(e).__name__}: {e}"
        dt = time.time() - t0
        if msg is None:
            print(f"ok      {name} ({dt:.1f} s){' written back' if a.write_back else ''}", flush=True)
        else:
            print(f"FAILED  {name} ({dt:.1f} s): {msg}", flush=True)
            failures.append(name)

    print(f"\n{len(a.notebooks) - len(failures)} of {len(a.notebooks)} notebooks ran without error")
    if a.keep:
        print(f"executed copies in {a.out}")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
