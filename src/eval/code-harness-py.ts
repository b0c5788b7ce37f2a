// The Python side of the code-test harness (code-tests.ts runs it in the sandbox). Two processes:
//
//   supervisor  trusted: reads the job {nonce, solution, prelude, tests, candidate} from fd 4 and
//               closes it, makes itself non-dumpable (no ptrace, no /proc/<pid>/fd or /mem for
//               anyone of its uid), starts the worker, then runs the benchmark's own code (the
//               HumanEval prompt's helpers or MBPP's setup, then the tests). Only when the tests
//               have returned without an exception does it write "PASS <nonce>" to fd 5.
//   worker      a fresh python3 (no memory of the nonce, no fd 4 or 5) that runs the model's
//               solution and answers calls over a pipe: {"op": "call", "name", "args"} -> a value.
//
// Values cross the pipe as tagged JSON that decodes only to plain Python data (None, bool, int,
// float, str, list, tuple, dict, set, frozenset, bytes, complex); anything else stays in the
// worker behind a handle that the tests can pass back or call, and that equals only itself. So
// nothing the solution does in its own process (os._exit, atexit, sys.exit, patched builtins, an
// object whose __eq__ is always True, printing a marker) can make the supervisor's asserts pass:
// the parent (Node) believes the tests passed only when fd 5 carries the nonce it sent.

/** Tagged JSON for plain data (enc, dec): shared by both processes. */
const CODEC = `
import json

def enc(x, keep):
    t = type(x)
    if x is None or t in (bool, int, str):
        return x
    if t is float:
        return x if x == x and x not in (float("inf"), float("-inf")) else {"x": repr(x)}
    if t is list:
        return [enc(v, keep) for v in x]
    if t is tuple:
        return {"t": [enc(v, keep) for v in x]}
    if t is dict:
        return {"d": [[enc(k, keep), enc(v, keep)] for k, v in x.items()]}
    if t is set or t is frozenset:
        return {"s" if t is set else "f": [enc(v, keep) for v in x]}
    if t is bytes:
        return {"b": x.hex()}
    if t is complex:
        return {"c": [enc(x.real, keep), enc(x.imag, keep)]}
    return {"h": keep(x)}

def dec(x, handle):
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    if t is list:
        return [dec(v, handle) for v in x]
    if t is not dict or len(x) != 1:
        raise ValueError("malformed value from the solution's process")
    (tag, v), = x.items()
    if tag == "x" and v in ("nan", "inf", "-inf"):
        return float(v)
    if tag == "t" and type(v) is list:
        return tuple(dec(i, handle) for i in v)
    if tag == "d" and type(v) is list:
        return {dec(k, handle): dec(i, handle) for k, i in v}
    if tag == "s" and type(v) is list:
        return {dec(i, handle) for i in v}
    if tag == "f" and type(v) is list:
        return frozenset(dec(i, handle) for i in v)
    if tag == "b" and type(v) is str:
        return bytes.fromhex(v)
    if tag == "c" and type(v) is list and len(v) == 2:
        re, im = dec(v[0], handle), dec(v[1], handle)
        if type(re) is float and type(im) is float:
            return complex(re, im)
    if tag == "h" and type(v) is int:
        return handle(v)
    raise ValueError("malformed value from the solution's process")
`;

/** The worker: runs the solution, answers calls on fd argv[1] -> argv[2]. Untrusted once loaded. */
const WORKER =
  CODEC +
  String.raw`
import os, sys
req = os.fdopen(int(sys.argv[1]), "rb")
rep = os.fdopen(int(sys.argv[2]), "wb")
kept = []
def keep(x):
    kept.append(x)
    return len(kept) - 1
ns = {"__name__": "__main__", "__builtins__": __builtins__}
for line in req:
    m = json.loads(line)
    try:
        if m["op"] == "load":
            exec(compile(m["code"], "solution.py", "exec"), ns)
            out = {"ok": True, "names": [k for k, v in list(ns.items()) if callable(v) and not k.startswith("__")]}
        else:
            f = ns[m["name"]] if "name" in m else kept[m["h"]]
            args, kwargs = dec(m["args"], kept.__getitem__), dec(m["kwargs"], kept.__getitem__)
            out = {"ok": True, "value": enc(f(*args, **kwargs), keep)}
        line = json.dumps(out)
    except BaseException as e:
        line = json.dumps({"ok": False, "error": (type(e).__name__ + ": " + str(e))[:2000]})
    rep.write(line.encode() + b"\n")
    rep.flush()
`;

const SUPERVISOR = String.raw`
import builtins, ctypes, subprocess, sys, traceback

MAX_LINE = 64 * 2**20

class SolutionError(Exception):
    pass

class Remote:
    """A value that lives in the solution's process: callable, passable back, equal only to itself."""
    def __init__(self, call, h):
        self._call, self._h = call, h
    def __call__(self, *args, **kwargs):
        return self._call({"op": "call", "h": self._h}, args, kwargs)
    def __repr__(self):
        return "<object in the solution's process>"

def own(v):
    if isinstance(v, Remote):
        return v._h
    raise TypeError("cannot pass a " + type(v).__name__ + " to the solution")

def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE = 0
        sys.exit("harness: prctl(PR_SET_DUMPABLE, 0) failed")
    data = b""
    while True:
        b = os.read(4, 1 << 20)
        if not b:
            break
        data += b
    os.close(4)
    job = json.loads(data)
    nonce = job.pop("nonce")
    os.set_inheritable(5, False)
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    worker = subprocess.Popen([sys.executable, "-I", "-B", "-u", "-c", WORKER, str(req_r), str(rep_w)],
                              pass_fds=(req_r, rep_w), stdin=subprocess.DEVNULL, close_fds=True)
    os.close(req_r)
    os.close(rep_w)
    to_worker = os.fdopen(req_w, "wb")
    from_worker = os.fdopen(rep_r, "rb")

    def send(m):
        to_worker.write(json.dumps(m).encode() + b"\n")
        to_worker.flush()
        line = from_worker.readline(MAX_LINE + 1)
        if not line.endswith(b"\n"):
            raise SolutionError("the solution's process ended without answering (exit status %s)" % worker.poll())
        r = json.loads(line)
        if type(r) is not dict or r.get("ok") is not True:
            raise SolutionError(str(r.get("error")) if type(r) is dict else "malformed answer")
        return r

    def call(target, args, kwargs):
        m = dict(target, args=enc(list(args), own), kwargs=enc(dict(kwargs), own))
        return dec(send(m).get("value"), lambda h: Remote(call, h))

    def proxy(name):
        def f(*args, **kwargs):
            return call({"op": "call", "name": name}, args, kwargs)
        f.__name__ = f.__qualname__ = name
        return f

    try:
        names = send({"op": "load", "code": job["solution"]}).get("names")
        g = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(job["prelude"], "prompt.py", "exec"), g)
        for n in names if type(names) is list else []:
            if type(n) is str and n.isidentifier() and n not in g and not hasattr(builtins, n):
                g[n] = proxy(n)
        if job.get("candidate"):
            g["__candidate__"] = proxy(job["candidate"])
        exec(compile(job["tests"], "tests.py", "exec"), g)
    except BaseException:
        traceback.print_exc()
        worker.kill()
        sys.exit(1)
    os.write(5, ("PASS " + nonce + "\n").encode())
    os.close(5)
    worker.kill()

main()
`;

/** The supervisor program (run as /tmp/main.py in the sandbox), with the worker's source inside. */
export const HARNESS_PY = `${CODEC}\nimport os\nWORKER = ${JSON.stringify(WORKER)}\n${SUPERVISOR}`;
