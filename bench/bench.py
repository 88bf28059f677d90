#!/usr/bin/python3
"""Side-by-side startup benchmark of OCI runtimes (skiff, runc, crun) and a C floor.

Run through bench/run.sh, which puts us in a private mount namespace (and hides a hybrid host's
cgroup2 mount so crun accepts the host). This file does the measuring, the table and the cleanup.

Timing: every command is spawned, timed (CLOCK_MONOTONIC around vfork+exec+wait4) and reaped by
bench/driver, a small static C process we talk to over a pipe; wait4's rusage gives each command's
peak RSS and user+sys CPU (what /usr/bin/time prints, cross-checked once a round). Spawning from
Python instead would add Python's own 15 MB to every peak RSS (the kernel counts the pre-exec
memory of a vforked child). The driver's spawn cost is measured and printed; it is in every number
alike, the floor's too; the pipe round trip is printed too and is in no number.
"""
import argparse
import ctypes
import errno
import datetime
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUSYBOX = "/usr/bin/busybox"
PR_SET_CHILD_SUBREAPER = 36
CGROUP_PARENT = "skiff-bench-%d" % os.getpid()


class BenchError(Exception):
    pass


class Interrupted(BaseException):
    """Raised from SIGINT/SIGTERM so that the finally blocks clean up."""


# ---------------------------------------------------------------- spawning and timing

class Result:
    __slots__ = ("rc", "ns", "rss_kb", "cpu_us", "err")

    def __init__(self, line, err=""):
        rc, ns, rss, cpu = (int(x) for x in line.split())
        self.rc, self.ns, self.rss_kb, self.cpu_us, self.err = rc, ns, rss, cpu, err

    @property
    def ms(self):
        return self.ns / 1e6

    @property
    def skipped(self):
        return self.rc == -1


class Driver:
    """One bench/driver process (see driver.c): spawns, times and reaps commands for us."""

    def __init__(self, path):
        # own session: a terminal's Ctrl-C reaches bench.py, which then cleans up through drivers
        # that are still alive
        self.p = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  start_new_session=True)

    def _answer(self):
        line = self.p.stdout.readline()
        if not line:
            raise BenchError("driver died")
        return line

    def run(self, cmds, errfile):
        """Runs the commands one after another (stopping at the first failure); one Result each."""
        req = ["X %d %s" % (len(cmds), errfile)]
        for argv in cmds:
            req.append(str(len(argv)))
            req.extend(argv)
        self.p.stdin.write("\n".join(req) + "\n")
        self.p.stdin.flush()
        out = []
        for _ in cmds:
            r = Result(self._answer())
            out.append(r)
            if r.rc > 0:
                with open(errfile, errors="replace") as f:
                    r.err = f.read().strip()[-2000:]
                break
        return out

    def wait(self, pid):
        self.p.stdin.write("W %d\n" % pid)
        self.p.stdin.flush()
        return Result(self._answer()).ns

    def reap(self):
        self.p.stdin.write("R\n")
        self.p.stdin.flush()
        self._answer()

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self.p.wait()


def reap_orphans():
    """Collects zombies of processes reparented to us (when a driver exited before them)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# ---------------------------------------------------------------- bundle

def default_config(args, cgroups_path, rootfs):
    """The config `runc spec` writes (the common default), with our command and cgroup."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def make_rootfs(path):
    """A busybox rootfs: static busybox plus the applets we run; shared by every bundle."""
    for d in ("bin", "proc", "dev", "sys", "tmp", "etc"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for applet in ("true", "sleep", "sh"):
        os.symlink("busybox", os.path.join(path, "bin", applet))


# ---------------------------------------------------------------- runtimes

class Runtime:
    def __init__(self, name, path, work):
        self.name, self.path = name, path
        self.root = os.path.join(work, "roots", name)
        self.errfile = os.path.join(work, "err-" + name)
        os.makedirs(self.root, exist_ok=True)

    systemd = False  # --systemd: every runtime gets --systemd-cgroup

    def cmd(self, *args):
        return [self.path, "--root", self.root, *(["--systemd-cgroup"] if Runtime.systemd else []), *args]

    def version(self):
        try:
            out = subprocess.run([self.path, "--version"], capture_output=True, text=True, timeout=10)
            lines = (out.stdout or out.stderr).strip().splitlines()
            return lines[0] if lines else "unknown"
        except Exception as e:  # a runtime without --version still gets benchmarked
            return "unknown (%s)" % e


def resolve_runtime(spec):
    """A runtime given by name (looked up in PATH; skiff also in the repo's build/) or by path."""
    if os.sep in spec:
        return os.path.basename(spec), (spec if os.access(spec, os.X_OK) else None)
    found = shutil.which(spec)
    if not found and spec == "skiff":
        cand = os.path.join(REPO, "build", "skiff")
        found = cand if os.access(cand, os.X_OK) else None
    return spec, found


class Bench:
    def __init__(self, opts, work):
        self.opts, self.work = opts, work
        self.rootfs = os.path.join(work, "rootfs")
        self.bundles = os.path.join(work, "bundles")
        self.seq = 0
        self.samples = {}  # (measure, runtime) -> {round: value}
        self.live = {}     # runtime name -> set of ids that may exist
        self.runtimes = []

    # ---- bookkeeping

    def record(self, measure, rt, rnd, value):
        self.samples.setdefault((measure, rt), {})[rnd] = value

    def record_cmd(self, cmd, rt, rnd, res):
        self.record("wall " + cmd, rt, rnd, res.ms)
        self.record("rss " + cmd, rt, rnd, res.rss_kb / 1024.0)
        self.record("cpu " + cmd, rt, rnd, res.cpu_us / 1000.0)

    def new_container(self, rt, args):
        """A fresh id with its own bundle (config.json only; the rootfs is shared by path)."""
        self.seq += 1
        cid = "skb%d-%s-%d" % (os.getpid(), rt.name, self.seq)
        bundle = os.path.join(self.bundles, cid)
        os.makedirs(bundle)
        # --systemd: a transient scope per container, as kubeadm's containerd and podman ask
        path = ("system.slice:skbench:%s" % cid) if Runtime.systemd else "/%s/%s" % (CGROUP_PARENT, cid)
        cfg = default_config(args, path, self.rootfs)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(cfg, f)
        self.live.setdefault(rt.name, set()).add(cid)
        return cid, bundle

    def forget(self, rt, cid):
        self.live.get(rt.name, set()).discard(cid)
        shutil.rmtree(os.path.join(self.bundles, cid), ignore_errors=True)

    def check(self, rt, what, res):
        if res.rc > 0:  # -1: a conditional command that did not need to run
            raise BenchError("%s %s failed (exit %d): %s" % (rt.name, what, res.rc, res.err or "no stderr"))

    # ---- the measures

    def one(self, rt, argv, what, errfile=None):
        """Runs one runtime command through the main driver; raises on failure."""
        r = self.drv.run([argv], errfile or rt.errfile)[0]
        self.check(rt, what, r)
        return r

    def gone(self, rt, cid):
        """The command that deletes cid if the runtime still has its state (runc and crun keep
        state in <root>/<id>; `run` in the foreground already deletes, so usually it is skipped)."""
        return ["?" + os.path.join(rt.root, cid)] + rt.cmd("delete", cid)

    def lifecycle(self, rt, rnd):
        """create + start + wait + delete, summed from the driver's clock. The wait is the same for
        every runtime: the driver is a child subreaper, so the container's init is its child once
        `create` has exited, and it waitpid()s it."""
        cid, bundle = self.new_container(rt, ["/bin/true"])
        pidfile = os.path.join(bundle, "pid")
        c = self.one(rt, rt.cmd("create", "--bundle", bundle, "--pid-file", pidfile, cid), "create")
        with open(pidfile) as f:
            pid = int(f.read().strip())
        s = self.one(rt, rt.cmd("start", cid), "start")
        wait_ns = self.drv.wait(pid)
        d = self.one(rt, rt.cmd("delete", cid), "delete")
        self.forget(rt, cid)
        self.record("lifecycle", rt.name, rnd, (c.ns + s.ns + wait_ns + d.ns) / 1e6)
        for name, res in (("create", c), ("start", s), ("delete", d)):
            self.record_cmd(name, rt.name, rnd, res)

    def run_delete(self, rt, rnd):
        """`run` in the foreground until the container is gone: plus `delete` only if the runtime
        kept the container's state after run (runc and crun delete it themselves)."""
        cid, bundle = self.new_container(rt, ["/bin/true"])
        r, *d = self.drv.run([rt.cmd("run", "--bundle", bundle, cid), self.gone(rt, cid)], rt.errfile)
        self.check(rt, "run", r)
        total = r.ns
        if d:
            self.check(rt, "delete after run", d[0])
            total += d[0].ns
        self.forget(rt, cid)
        self.record("run(+delete)", rt.name, rnd, total / 1e6)
        self.record_cmd("run", rt.name, rnd, r)

    def floor(self, rnd):
        r = self.drv.run([[self.opts.floor, self.rootfs]], os.path.join(self.work, "err-floor"))[0]
        if r.rc != 0:
            raise BenchError("floor failed (exit %d): %s" % (r.rc, r.err))
        self.record("run(+delete)", "floor", rnd, r.ms)
        self.record_cmd("run", "floor", rnd, r)

    def driver_overhead(self, rnd):
        t0 = time.perf_counter_ns()
        r = self.drv.run([[os.path.join(self.rootfs, "bin", "busybox"), "true"]], "/dev/null")[0]
        rt_ns = time.perf_counter_ns() - t0
        self.record("spawn+wait static true (in every number)", "-", rnd, r.ms)
        self.record("python<->driver round trip (in no number)", "-", rnd, (rt_ns - r.ns) / 1e6)

    def start_exec_target(self, rt):
        cid, bundle = self.new_container(rt, ["/bin/sleep", "1000000"])
        self.one(rt, rt.cmd("create", "--bundle", bundle, cid), "create (exec target)")
        self.one(rt, rt.cmd("start", cid), "start (exec target)")
        rt.exec_target = cid

    def exec_true(self, rt, rnd):
        r = self.one(rt, rt.cmd("exec", rt.exec_target, "/bin/true"), "exec")
        self.record("exec", rt.name, rnd, r.ms)
        self.record_cmd("exec", rt.name, rnd, r)

    def burst(self, rt, rnd):
        """N containers started at once, each `run` (+`delete` if state was kept) by its own
        driver, until all are gone; the wall time divided by N."""
        n = self.opts.burst
        ids = [self.new_container(rt, ["/bin/true"]) for _ in range(n)]
        drivers = self.burst_drivers[:n]
        for i, (cid, bundle) in enumerate(ids):
            req = ["X 2 %s-burst%d" % (rt.errfile, i)]
            for argv in (rt.cmd("run", "--bundle", bundle, cid), self.gone(rt, cid)):
                req += [str(len(argv))] + argv
            ids[i] = (cid, "\n".join(req) + "\n")
        t0 = time.perf_counter_ns()
        for drv, (_, req) in zip(drivers, ids):  # all requests out first: they start together
            drv.p.stdin.write(req)
            drv.p.stdin.flush()
        answers = [[Result(drv._answer())] for drv in drivers]
        for a, drv in zip(answers, drivers):
            if a[0].rc == 0:
                a.append(Result(drv._answer()))
        total = time.perf_counter_ns() - t0
        errors = []
        for i, ((cid, _), a) in enumerate(zip(ids, answers)):
            self.forget(rt, cid)
            if any(r.rc > 0 for r in a):
                with open("%s-burst%d" % (rt.errfile, i), errors="replace") as f:
                    errors.append("%s burst %s failed: %s" % (rt.name, cid, f.read().strip()[-500:]))
        if errors:
            self.cleanup_runtime(rt, keep=rt.exec_target)
            raise BenchError(errors[0])
        self.record("burst/container", rt.name, rnd, total / 1e6 / n)

    def time_rss(self, rt, rnd):
        """Cross-check of the driver's RSS with /usr/bin/time -f %M on one untimed `run` a round."""
        if not self.opts.time_bin:
            return
        cid, bundle = self.new_container(rt, ["/bin/true"])
        out = os.path.join(self.work, "time.out")
        r = self.drv.run([[self.opts.time_bin, "-f", "%M", "-o", out] + rt.cmd("run", "--bundle", bundle, cid),
                          self.gone(rt, cid)], rt.errfile)[0]
        self.forget(rt, cid)
        self.check(rt, "run under /usr/bin/time", r)
        with open(out) as f:
            self.record("rss run (/usr/bin/time)", rt.name, rnd, int(f.read().split()[-1]) / 1024.0)

    # ---- driving

    def setup(self):
        os.makedirs(self.bundles)
        make_rootfs(self.rootfs)
        self.drv = Driver(self.opts.driver)
        self.burst_drivers = [Driver(self.opts.driver) for _ in range(self.opts.burst)]
        for spec in self.opts.runtimes:
            name, path = resolve_runtime(spec)
            if not path:
                print("bench: %s not found, skipping it" % spec)
                continue
            taken = [r.name for r in self.runtimes]
            if name in taken:  # e.g. two runc binaries: each needs its own label and --root
                name = "%s-%d" % (name, len(taken) + 1)
            rt = Runtime(name, path, self.work)
            self.runtimes.append(rt)  # listed at once, so that cleanup sees it whatever happens
            try:  # a runtime that cannot run the bundle at all is reported and left out
                self.run_delete(rt, -1)
                self.start_exec_target(rt)
            except BenchError as e:
                print("bench: SKIPPING %s: %s" % (name, e))
                self.cleanup_runtime(rt)
                self.runtimes.remove(rt)
                # skiff is what the benchmark measures: without it the run means nothing
                if self.opts.strict or name == "skiff":
                    raise
        self.samples.clear()  # the warm-up calls above are not samples

    def measures(self):
        if Runtime.systemd:
            return [("lifecycle", self.lifecycle), ("run", self.run_delete)]
        return [("lifecycle", self.lifecycle), ("run", self.run_delete), ("exec", self.exec_true),
                ("burst", self.burst), ("/usr/bin/time", self.time_rss)]

    def run(self):
        self.setup()
        self.header()
        for rnd in range(self.opts.rounds):
            # rotate the order each round so no runtime always goes first after a quiet spell
            k = rnd % max(1, len(self.runtimes))
            order = self.runtimes[k:] + self.runtimes[:k]
            self.driver_overhead(rnd)
            for mname, fn in self.measures():
                if mname == "run":
                    self.floor(rnd)
                for rt in order:
                    fn(rt, rnd)
                self.drv.reap()
            self.print_round(rnd)

    def syscalls(self):
        """One untimed `run` per runtime (and the floor) under `strace -f -c`: how many syscalls
        each makes, and of which kinds the most. The container's /bin/true is counted too."""
        strace = shutil.which("strace")
        if not strace:
            print("bench: strace not installed, no syscall counts")
            return
        rows = []
        targets = [(rt.name, rt) for rt in self.runtimes] + [("floor", None)]
        for name, rt in targets:
            out = os.path.join(self.work, "strace-" + name)
            if rt:
                cid, bundle = self.new_container(rt, ["/bin/true"])
                cmds = [[strace, "-f", "-c", "-o", out] + rt.cmd("run", "--bundle", bundle, cid),
                        self.gone(rt, cid)]
            else:
                cmds = [[strace, "-f", "-c", "-o", out, self.opts.floor, self.rootfs]]
            r = self.drv.run(cmds, os.path.join(self.work, "err-strace"))[0]
            if rt:
                self.forget(rt, cid)
            if r.rc != 0:
                print("bench: %s under strace failed: %s" % (name, r.err))
                continue
            counts = {}
            with open(out) as f:
                for line in f:
                    cols = line.split()
                    if len(cols) >= 5 and cols[-1] != "syscall" and cols[3].isdigit():
                        counts[cols[-1]] = int(cols[3])
            total = counts.pop("total", sum(counts.values()))
            mounts = sum(counts.get(k, 0) for k in ("mount", "umount2", "mount_setattr", "move_mount",
                                                    "open_tree", "fsopen", "fsconfig", "fsmount"))
            top = ", ".join("%s %d" % kv for kv in sorted(counts.items(), key=lambda kv: -kv[1])[:6])
            rows.append("| %s | %d | %d | %d | %d | %s |" % (
                name, total, mounts, counts.get("execve", 0),
                counts.get("clone", 0) + counts.get("clone3", 0), top))
        print("\n### Syscalls of one `run` (strace -f -c, container included)\n")
        print("| runtime | total | mount API | execve | clone | most frequent |")
        print("|---|---:|---:|---:|---:|---|")
        print("\n".join(rows), flush=True)

    # ---- cleanup

    def cleanup_runtime(self, rt, keep=None):
        ids = set(self.live.get(rt.name, set()))
        if os.path.isdir(rt.root):
            ids |= set(os.listdir(rt.root))
        ids.discard(keep)
        for cid in sorted(ids):
            subprocess.run(rt.cmd("delete", "-f", cid), capture_output=True)
            self.forget(rt, cid)
        if getattr(self, "drv", None):
            try:
                self.drv.reap()
            except (OSError, BenchError):
                pass

    def cleanup(self):
        for rt in list(self.runtimes):
            self.cleanup_runtime(rt)
        for d in [getattr(self, "drv", None)] + getattr(self, "burst_drivers", []):
            if d:
                d.close()
        reap_orphans()
        cleanup_cgroups(CGROUP_PARENT)


    # ---- reporting

    def base(self):
        names = [rt.name for rt in self.runtimes]
        if self.opts.baseline in names:
            return self.opts.baseline
        return None

    def stats(self, measure, rt):
        d = self.samples.get((measure, rt), {})
        vals = sorted(d.values())
        if not vals:
            return None
        med = statistics.median(vals)
        p90 = vals[max(0, math.ceil(0.9 * len(vals)) - 1)]
        ratio = None
        base = self.base()
        bd = self.samples.get((measure, base), {}) if base else {}
        rs = [d[r] / bd[r] for r in d if r in bd and bd[r] > 0]
        if rs:
            ratio = statistics.median(rs)
        return med, p90, ratio, len(vals)

    def print_round(self, rnd):
        base = self.base()
        parts = []
        for m in ("lifecycle", "run(+delete)", "exec", "burst/container"):
            cells = []
            for rt in [r.name for r in self.runtimes] + (["floor"] if m == "run(+delete)" else []):
                v = self.samples.get((m, rt), {}).get(rnd)
                if v is None:
                    continue
                b = self.samples.get((m, base), {}).get(rnd) if base else None
                cells.append("%s %.1f%s" % (rt, v, " (%.2fx)" % (v / b) if b else ""))
            parts.append("%s: %s" % (m, ", ".join(cells)))
        print("round %d/%d  %s" % (rnd + 1, self.opts.rounds, " | ".join(parts)), flush=True)

    def table(self):
        base = self.base() or "baseline"
        names = [rt.name for rt in self.runtimes]
        out = ["", "### Latency (ms; median and p90 over %d rounds; ratio = median of per-round ratios to %s)"
               % (self.opts.rounds, base), "",
               "| measure | runtime | median | p90 | x %s |" % base, "|---|---|---:|---:|---:|"]

        def fmt(x, nd=2):
            return "-" if x is None else ("%.*f" % (nd, x))

        for m in ("lifecycle", "run(+delete)", "exec", "burst/container"):
            for rt in names + (["floor"] if m == "run(+delete)" else []):
                s = self.stats(m, rt)
                if s:
                    out.append("| %s | %s | %s | %s | %s |" % (m, rt, fmt(s[0]), fmt(s[1]), fmt(s[2])))
        for m in ("spawn+wait static true (in every number)", "python<->driver round trip (in no number)"):
            s = self.stats(m, "-")
            if s:
                out.append("| %s | - | %s | %s | - |" % (m, fmt(s[0], 3), fmt(s[1], 3)))
        out += ["", "### Per command: wall (ms), peak RSS (MiB, wait4 ru_maxrss), CPU user+sys (ms)", "",
                "| command | runtime | wall med | RSS med | RSS p90 | RSS x %s | CPU med | CPU p90 | CPU x %s |"
                % (base, base), "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for cmd in ("create", "start", "delete", "run", "exec"):
            for rt in names + (["floor"] if cmd == "run" else []):
                w, r, c = (self.stats(k + " " + cmd, rt) for k in ("wall", "rss", "cpu"))
                if w:
                    out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        cmd, rt, fmt(w[0]), fmt(r[0]), fmt(r[1]), fmt(r[2]), fmt(c[0]), fmt(c[1]), fmt(c[2])))
        for rt in names:
            s = self.stats("rss run (/usr/bin/time)", rt)
            if s:
                out.append("| run (/usr/bin/time %%M) | %s | - | %s | %s | %s | - | - | - |"
                           % (rt, fmt(s[0]), fmt(s[1]), fmt(s[2])))
        out += ["", "load average at the end: %s (a busy machine widens p90 for everyone alike)" % loadavg()]
        print("\n".join(out), flush=True)

    def header(self):
        print("## skiff bench — %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
        print("host: kernel %s, %d cpus, %s" % (platform.release(), os.cpu_count(), self.opts.cgroup_note))
        print("rounds: %d, burst: %d containers, order rotated round-robin each round; load average %s"
              % (self.opts.rounds, self.opts.burst, loadavg()))
        for rt in self.runtimes:
            print("runtime %s: %s (%s)" % (rt.name, rt.path, rt.version()))
        print("floor: %s (clone pid+mnt+uts+ipc+net, pivot_root, /proc, exec)" % self.opts.floor)
        if not self.base():
            print("bench: baseline %s not available; ratio columns are empty" % self.opts.baseline)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cgroup_roots():
    """Mount points that are cgroup hierarchies now: a later mount over the same point (our tmpfs
    over /sys/fs/cgroup/unified) hides the earlier one."""
    top = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            top[fields[4]] = fields[fields.index("-") + 1]
    return [m for m, fstype in top.items() if fstype in ("cgroup", "cgroup2")]


def cleanup_cgroups(parent):
    """Removes our cgroup parent (and anything a failed run left below it) in every hierarchy."""
    for root in cgroup_roots():
        top = os.path.join(root, parent)
        if not os.path.isdir(top):
            continue
        for dirpath, _, _ in os.walk(top, topdown=False):
            try:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
            for _ in range(100):  # a killed task leaves its cgroup asynchronously: EBUSY a while
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        print("bench: cannot remove cgroup %s: %s" % (dirpath, e), file=sys.stderr)
                        break
                    time.sleep(0.02)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, help="default 20 (2 with --quick)")
    p.add_argument("--runtimes", default="skiff,crun,runc",
                   help="comma-separated names (looked up in PATH; skiff also in build/) or paths")
    p.add_argument("--baseline", default="crun", help="runtime the ratio columns divide by")
    p.add_argument("--burst", type=int, help="containers started at once in the burst measure; default 20 "
                   "(3 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 rounds, burst of 3")
    p.add_argument("--strict", action="store_true", help="fail instead of skipping a runtime that fails")
    p.add_argument("--json", help="also write the raw samples to this file")
    p.add_argument("--syscalls", action="store_true", help="also count syscalls of one run (strace -f -c)")
    p.add_argument("--workdir", required=True, help="scratch directory (made by run.sh)")
    p.add_argument("--floor", default=os.path.join(HERE, "floor"))
    p.add_argument("--driver", default=os.path.join(HERE, "driver"))
    p.add_argument("--time-bin", default=shutil.which("time") or "")
    p.add_argument("--cgroup-note", default="cgroups as found")
    p.add_argument("--systemd", action="store_true",
                   help="systemd cgroup driver: --systemd-cgroup and slice:prefix:name paths; lifecycle and run only")
    p.add_argument("--cleanup-only", action="store_true", help="delete what a killed run left in --workdir")
    p.add_argument("--no-install", action="store_true", help=argparse.SUPPRESS)  # handled by run.sh
    o = p.parse_args(argv)
    if o.rounds is None:
        o.rounds = 2 if o.quick else 20
    if o.burst is None:
        o.burst = 3 if o.quick else 20
    if o.rounds < 1 or o.burst < 1:
        p.error("--rounds and --burst must be at least 1")
    o.runtimes = [r for r in o.runtimes.split(",") if r]
    if o.time_bin and not os.path.exists(o.time_bin):
        o.time_bin = ""
    return o


def cleanup_only(work):
    """Backstop for run.sh's trap: delete every container in every root under work, then cgroups."""
    roots = os.path.join(work, "roots")
    for name in (os.listdir(roots) if os.path.isdir(roots) else []):
        _, path = resolve_runtime(name)
        root = os.path.join(roots, name)
        for cid in (os.listdir(root) if path else []):
            subprocess.run([path, "--root", root, "delete", "-f", cid], capture_output=True)
    reap_orphans()
    # the cgroup parent is named after the pid of the bench.py that made it: remove those whose
    # bench.py is gone (a killed run is the only way one is left)
    for root in cgroup_roots():
        for d in os.listdir(root):
            if d.startswith("skiff-bench-") and not os.path.exists("/proc/" + d.rsplit("-", 1)[1]):
                cleanup_cgroups(d)


def main(argv):
    opts = parse(argv)
    Runtime.systemd = opts.systemd
    if os.geteuid() != 0:
        print("bench: must run as root (through bench/run.sh)", file=sys.stderr)
        return 1
    if opts.cleanup_only:
        cleanup_only(opts.workdir)
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("bench: prctl(PR_SET_CHILD_SUBREAPER) failed", file=sys.stderr)
        return 1

    def interrupted(signum, frame):
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # one interruption; the cleanup must not be cut short
        raise Interrupted(signal.Signals(signum).name)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, interrupted)
    for b in (opts.floor, opts.driver):
        if not os.access(b, os.X_OK):
            print("bench: %s missing (bench/run.sh builds it)" % b, file=sys.stderr)
            return 1
    bench = Bench(opts, opts.workdir)
    rc = 0
    try:
        bench.run()
        bench.table()
        if opts.syscalls:
            bench.syscalls()
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump({"%s|%s" % k: v for k, v in bench.samples.items()}, f, indent=1)
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        rc = 1
    except Interrupted as e:
        print("bench: interrupted (%s), cleaning up" % e, file=sys.stderr)
        rc = 130
    finally:
        bench.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
