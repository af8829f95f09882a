#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""`make mutate`: one-line mutants of bpf/ and userspace/lib, each built and run
against the fast suites (test_unit, test_progs) in a throwaway copy of the tree.

Operators (docs/testing.md has examples):
  rel     relational operators: == <-> !=, < -> <=, <= -> <, > -> >=, >= -> >
  logic   && <-> ||
  arith   binary + <-> - (spaced, as the style writes them), += <-> -=
  const   boundary constants: a decimal literal N in a condition or return -> N+1, N-1
  neg     negated condition: if (C) -> if (!(C)) (condition on one line)
  call    removed call: a statement that is only a call `f(...);` -> `(void)0;`
  ret     removed early return: `return ...;` / `goto L;` right under an `if (...)` -> `(void)0;`
          ((void)0 rather than an empty statement: -Wempty-body would make it stillborn)

Environment: MUTATE_JOBS (2), MUTATE_BUDGET (seconds, 0 = none), MUTATE_FILES
(space-separated globs), MUTATE_OPS (comma list), MUTATE_SAMPLE (N mutants, deterministic
for MUTATE_SEED), MUTATE_TIMEOUT (per suite run, 400 s), MUTATE_LIST=1 (count, run
nothing), MUTATE_RESUME=1 (keep the verdicts of build/mutate/results.txt but "survived"),
MUTATE_EQUIV (equivalent list, selftests/mutate-equivalent.txt).
Exit status 0 whatever the score: it is a measurement, not a gate.
"""
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import signal
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
O = os.environ.get("O", "build")  # relative to the top: each worker has its own copy
SRC_GLOBS = ["bpf/*.bpf.c", "bpf/lib/*.h", "userspace/lib/*.c"]
OPS = ["rel", "logic", "arith", "const", "neg", "call", "ret"]

# Tests that usually kill a mutant of a file fast: run first, the full suites only if they pass.
HINTS = {
    "bpf/uplink.bpf.c": ["test_progs -t uplink_xdp"],
    "bpf/tunnel.bpf.c": ["test_progs -t tunnel_related", "test_progs -t tunnel_verdicts"],
    "bpf/lib/": ["test_progs -t tunnel_related", "test_progs -t uplink_xdp"],
    "userspace/lib/tw_dp_uplink": ["test_progs -t uplink_maps"],
    "userspace/lib/tw_dp": ["test_progs -t libtw"],
}
SUITES = ["test_unit", "test_progs"]
COVERED = None  # suite_lines(), unless MUTATE_COVERAGE=0

STRING_RE = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
REL_RE = re.compile(r"(?<![<>=!&|+\-*/%^])(==|!=|<=|>=|<|>)(?![<>=])")
LOGIC_RE = re.compile(r" (&&|\|\|) ")
ARITH_RE = re.compile(r"(?<=[\w)\]]) ([+-]) (?=[\w(])|(?<=[\w)\]]) ([+-])= ")
CONST_RE = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
CALL_RE = re.compile(r"^(\s*)[A-Za-z_][\w.>-]*\(.*\);\s*$")
RET_RE = re.compile(r"^(\s*)(return\b[^;]*|goto \w+);\s*$")
IF_RE = re.compile(r"^\s*(\} else )?if \(")
SKIP_CALL = re.compile(r"^\s*(return|if|while|for|switch|sizeof|case|SEC|BPF_\w*|__\w*)\b")


def globmatch(path, glob):
    """fnmatch where * stays inside one directory (bpf/*.bpf.c is not bpf/bench/...)."""
    return path.count("/") == glob.count("/") and fnmatch.fnmatch(path, glob)


def masked(line):
    """The line with string and char literals blanked, same length, so offsets hold."""
    return STRING_RE.sub(lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', line)


def code_lines(text):
    """(index, line) of lines that are code: not comments, not preprocessor, not asserts."""
    in_comment = False
    for i, line in enumerate(text.split("\n")):
        s = line.strip()
        if in_comment:
            if "*/" in s:
                in_comment = False
            continue
        if s.startswith("/*"):
            in_comment = "*/" not in s
            continue
        if not s or s.startswith(("//", "*", "#")) or "static_assert" in s:
            continue
        yield i, line


def match_paren(m, start):
    depth = 0
    for j in range(start, len(m)):
        if m[j] == "(":
            depth += 1
        elif m[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


def mutants_of_line(line, prev):
    m = masked(line)
    code = m.split("//")[0].split("/*")[0]
    cond = bool(re.search(r"\b(if|while|for|return)\b|\?", code))
    # declarations with initialisers and array sizes make stillborn or equivalent const mutants
    out = []
    for r in REL_RE.finditer(code):
        op = r.group(1)
        if op in "<>" and re.search(r"#include|\w<\w+>", code):
            continue
        alt = {"==": ["!="], "!=": ["=="], "<": ["<="], "<=": ["<"], ">": [">="],
               ">=": [">"]}[op]
        for a in alt:
            out.append(("rel", line[:r.start(1)] + a + line[r.end(1):]))
    for r in LOGIC_RE.finditer(code):
        a = "||" if r.group(1) == "&&" else "&&"
        out.append(("logic", line[:r.start(1)] + a + line[r.end(1):]))
    for r in ARITH_RE.finditer(code):
        g = 1 if r.group(1) else 2
        a = "-" if r.group(g) == "+" else "+"
        out.append(("arith", line[:r.start(g)] + a + line[r.end(g):]))
    if cond:
        for r in CONST_RE.finditer(code):
            n = int(r.group(1))
            for v in (n + 1, n - 1):
                if v >= 0:
                    out.append(("const", line[:r.start(1)] + str(v) + line[r.end(1):]))
    mi = re.search(r"\bif \(", code)
    if mi:
        end = match_paren(code, mi.end() - 1)
        if end > 0:
            c = line[mi.end():end]
            out.append(("neg", line[:mi.end()] + "!(" + c + ")" + line[end:]))
    if CALL_RE.match(code) and not SKIP_CALL.match(code) and "=" not in code.split("(")[0]:
        out.append(("call", CALL_RE.match(code).group(1) + "(void)0;"))
    rm = RET_RE.match(code)
    if rm and prev is not None and IF_RE.match(prev) and not prev.rstrip().endswith("{"):
        out.append(("ret", rm.group(1) + "(void)0;"))
    return out


class Mutant:
    def __init__(self, path, idx, op, orig, new):
        self.path, self.idx, self.op, self.orig, self.new = path, idx, op, orig, new
        self.key = hashlib.sha1(f"{path}\0{orig.strip()}\0{new.strip()}\0{idx}".encode()).hexdigest()
        self.status = None  # killed, survived, stillborn, timeout
        self.by = ""
        self.secs = 0.0

    def diff(self):
        return (f"--- a/{self.path}\n+++ b/{self.path}\n@@ -{self.idx + 1} +{self.idx + 1} @@ "
                f"[{self.op}]\n-{self.orig}\n+{self.new}\n")


def load_equivalents(path):
    eq, cur = set(), {}
    if not os.path.exists(path):
        return eq
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith("#"):
            continue
        if not line.strip():
            cur = {}
            continue
        k, _, v = line.partition(": ")
        cur[k.strip()] = v.strip()
        if {"file", "-", "+", "why"} <= cur.keys():
            eq.add((cur["file"], cur["-"], cur["+"]))
            cur = {}
    return eq


def generate(files, ops):
    muts = []
    for path in files:
        text = open(os.path.join(TOP, path), encoding="utf-8").read()
        lines = text.split("\n")
        prev = None
        for i, line in code_lines(text):
            for op, new in mutants_of_line(line, lines[i - 1] if i else prev):
                if op in ops and new != line:
                    muts.append(Mutant(path, i, op, line, new))
    return muts


def sh(cmd, cwd, timeout, env=None):
    """Run cmd; (rc, output, seconds), rc None on timeout (its whole process group killed)."""
    t = time.time()
    p = subprocess.Popen(cmd, cwd=cwd, shell=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace"), time.time() - t
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, "", time.time() - t


def suite_lines(outdir):
    """{suite: {(path, line)}}: the userspace lines each suite executes (gcov, own build dir).
    A mutant of a line no suite runs cannot be killed; one a suite never reaches need not run
    that suite. Cached until a source or test is newer than the cache."""
    cache = os.path.join(outdir, "suite-lines.txt")
    srcs = subprocess.run("git ls-files -co --exclude-standard userspace selftests include bpf",
                          cwd=TOP, shell=True, stdout=subprocess.PIPE, text=True).stdout.split()
    newest = max(os.path.getmtime(os.path.join(TOP, f)) for f in srcs
                 if f.endswith((".c", ".h")) and os.path.exists(os.path.join(TOP, f)))
    if not (os.path.exists(cache) and os.path.getmtime(cache) > newest):
        cov = os.path.join(O, "mutate", "cov")
        env = dict(os.environ, CFLAGS="-O0 -g --coverage", LDFLAGS="--coverage")
        print("mutate: measuring which lines each suite runs (coverage build)", flush=True)
        rc, out, _ = sh(f"make -s -j2 TW_NO_DEPS=1 O={cov} tests {cov}/tunwarden-hook", TOP, 1800,
                        env)
        if rc != 0:
            sys.exit("mutate: coverage build failed:\n" + out[-2000:])
        with open(cache + ".tmp", "w") as fh:
            for suite in SUITES:
                sh(f"find {cov} -name '*.gcda' -delete", TOP, 60)
                sh(f"{cov}/selftests/{suite}", TOP, 1800)
                info = os.path.join(outdir, f"{suite}.info")
                sh(f"lcov -q --capture --directory {cov} --base-directory {TOP} -o {info}", TOP,
                   600)
                out = open(info).read() if os.path.exists(info) else ""
                path = None
                for line in out.splitlines():
                    if line.startswith("SF:"):
                        path = os.path.relpath(line[3:], TOP)
                    elif line.startswith("DA:") and path:
                        ln, cnt = line[3:].split(",")[:2]
                        if cnt != "0":
                            fh.write(f"{suite} {path} {ln}\n")
        os.replace(cache + ".tmp", cache)
    lines = {s: set() for s in SUITES}
    for row in open(cache):
        suite, path, ln = row.split()
        lines[suite].add((path, int(ln)))
    return lines


def prepare_worker(wdir):
    """A copy of the sources and of the built tree: later builds are incremental."""
    if os.path.exists(wdir):
        shutil.rmtree(wdir)
    os.makedirs(wdir)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=TOP,
                           stdout=subprocess.PIPE, check=True).stdout.split(b"\0")
    for f in files:
        f = f.decode()
        if not f or not os.path.isfile(os.path.join(TOP, f)):
            continue
        d = os.path.join(wdir, os.path.dirname(f))
        os.makedirs(d, exist_ok=True)
        shutil.copy2(os.path.join(TOP, f), os.path.join(wdir, f))
    subprocess.run(f"tar -C {TOP} --exclude=./{O}/mutate --exclude=./{O}/coverage -cf - "
                   f"./{O} | tar -C {wdir} -xf -", shell=True, check=True)
    # generated test tables list the tests of the build, not of the copied sources
    subprocess.run(f"rm -f {wdir}/{O}/selftests/*.inc", shell=True, check=True)


def run_mutant(m, wdir, tmo):
    f = os.path.join(wdir, m.path)
    text = open(f, encoding="utf-8").read()
    lines = text.split("\n")
    lines[m.idx] = m.new
    t0 = time.time()
    try:
        open(f, "w", encoding="utf-8").write("\n".join(lines))
        rc, out, _ = sh(f"make -s TW_NO_DEPS=1 O={O} tests {O}/tunwarden-hook", wdir, 600)
        if rc != 0:
            m.status, m.by = "stillborn", (out.strip().splitlines() or ["?"])[-1][:120]
            return
        if m.path.startswith("bpf/"):
            suites = ["test_progs"]  # test_unit loads no BPF
        elif COVERED is None:
            suites = SUITES
        else:
            suites = [s for s in SUITES if (m.path, m.idx + 1) in COVERED[s]]
            if not suites:
                m.status, m.by = "survived", "(line run by no suite)"
                return
        hints = [c for k, v in HINTS.items() if m.path.startswith(k) for c in v
                 if c.split()[0] in suites]
        for c in hints + suites:
            rc, out, _ = sh(f"{O}/selftests/{c}", wdir, tmo)
            if rc is None:
                m.status, m.by = "timeout", c
                return
            if rc != 0:
                verifier = "failed to load" in out or "-EACCES" in out or "verifier" in out
                m.status, m.by = "killed", c + (" (verifier)" if verifier else "")
                return
        m.status = "survived"
    finally:
        open(f, "w", encoding="utf-8").write(text)  # next make rebuilds the original
        m.secs = time.time() - t0


def main():
    env = os.environ
    jobs = int(env.get("MUTATE_JOBS", "2"))
    budget = float(env.get("MUTATE_BUDGET", "0"))
    tmo = float(env.get("MUTATE_TIMEOUT", "400"))
    ops = set((env.get("MUTATE_OPS") or ",".join(OPS)).split(","))
    globs = (env.get("MUTATE_FILES") or " ".join(SRC_GLOBS)).split()
    eqfile = env.get("MUTATE_EQUIV", os.path.join(TOP, "selftests/mutate-equivalent.txt"))
    allfiles = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=TOP,
                              stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    files = sorted(f for f in allfiles if any(globmatch(f, g) for g in globs)
                   and any(globmatch(f, g) for g in SRC_GLOBS))
    muts = generate(files, ops)
    n_all = len(muts)
    sample = int(env.get("MUTATE_SAMPLE", "0"))
    if sample and sample < len(muts):
        # drawn before equivalents are dropped: the list does not change the sample
        seed = env.get("MUTATE_SEED", "1")
        muts = sorted(muts, key=lambda m: hashlib.sha1((seed + m.key).encode()).hexdigest())
        muts = sorted(muts[:sample], key=lambda m: (m.path, m.idx))
    eq = load_equivalents(eqfile)
    n_run = len(muts)
    muts = [m for m in muts if (m.path, m.orig.strip(), m.new.strip()) not in eq]
    n_eq = n_run - len(muts)
    print(f"mutate: {n_all} mutants over {len(files)} files, {n_eq} listed as equivalent, "
          f"running {len(muts)}" + (f" (sample, seed {env.get('MUTATE_SEED', '1')})"
                                    if sample else ""), flush=True)
    if env.get("MUTATE_LIST") == "1":
        per = {}
        for m in muts:
            per.setdefault(m.path, {}).setdefault(m.op, 0)
            per[m.path][m.op] += 1
        for p, d in per.items():
            print(f"  {p}: " + " ".join(f"{k}={v}" for k, v in sorted(d.items())))
        return 0

    outdir = os.path.join(TOP, O, "mutate")
    os.makedirs(outdir, exist_ok=True)
    results = os.path.join(outdir, "results.txt")
    if env.get("MUTATE_RESUME") == "1" and os.path.exists(results):
        # tests only get stronger between runs: keep every verdict but "survived"
        old = {}
        for line in open(results):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 2:
                old[f[1]] = (f[0], f[4] if len(f) > 4 else "")
        byk = {m.key: m for m in muts}
        for k, (st, by) in old.items():
            if k in byk and st != "survived":
                byk[k].status, byk[k].by = st, by + " (earlier run)"
        print(f"mutate: resuming: {sum(1 for m in muts if m.status)} verdicts kept from "
              f"{results}", flush=True)
    elif os.path.exists(results):
        os.remove(results)
    todo = [m for m in muts if not m.status]
    t_start = time.time()
    print(f"mutate: preparing {jobs} worker copies in {outdir}", flush=True)
    global COVERED
    if env.get("MUTATE_COVERAGE", "1") != "0" and shutil.which("lcov"):
        COVERED = suite_lines(outdir)
    wdirs = [os.path.join(outdir, f"w{j}") for j in range(jobs)]
    for w in wdirs:
        prepare_worker(w)
    lock = threading.Lock()
    queue = list(todo)
    done = [0]

    def worker(wdir):
        while True:
            with lock:
                if not queue or (budget and time.time() - t_start > budget):
                    return
                m = queue.pop(0)
            run_mutant(m, wdir, tmo)
            with lock:
                done[0] += 1
                with open(results, "a") as fh:
                    fh.write(f"{m.status}\t{m.key}\t{m.path}:{m.idx + 1}\t{m.op}\t{m.by}\n")
                print(f"mutate: [{done[0]}/{len(todo)}] {m.status:9} {m.secs:5.1f}s "
                      f"{m.path}:{m.idx + 1} [{m.op}] {m.by}", flush=True)

    threads = [threading.Thread(target=worker, args=(w,)) for w in wdirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t_start

    ran = [m for m in muts if m.status]
    surv = [m for m in ran if m.status == "survived"]
    with open(os.path.join(outdir, "survivors.diff"), "w") as fh:
        for m in surv:
            fh.write(m.diff())
    print("\nmutate: survivors")
    for m in surv:
        print(m.diff())
    print("mutate: score per file (killed / (killed + survived); stillborn apart)")
    tot = {"killed": 0, "survived": 0, "stillborn": 0, "timeout": 0, "verifier": 0}
    for p in sorted({m.path for m in ran}):
        c = {k: 0 for k in tot}
        for m in ran:
            if m.path == p:
                c[m.status] += 1
                c["verifier"] += "(verifier)" in m.by
        for k in tot:
            tot[k] += c[k]
        k = c["killed"] + c["timeout"]
        sc = 100.0 * k / (k + c["survived"]) if k + c["survived"] else 100.0
        print(f"  {p:36} {sc:5.1f}%  killed {k:3} (verifier {c['verifier']}, timeout "
              f"{c['timeout']})  survived {c['survived']:3}  stillborn {c['stillborn']:3}")
    k = tot["killed"] + tot["timeout"]
    sc = 100.0 * k / (k + tot["survived"]) if k + tot["survived"] else 100.0
    secs = [m.secs for m in ran if m.status != "stillborn" and m.secs]
    per = sum(secs) / len(secs) if secs else 0
    print(f"mutate: score {sc:.1f}% ({k} killed, {tot['survived']} survived, "
          f"{tot['stillborn']} stillborn; {len(muts) - len(ran)} not run within the budget); "
          f"{elapsed:.0f} s wall, {per:.1f} s a built mutant, {jobs} jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
