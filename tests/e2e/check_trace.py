#!/usr/bin/env python3
"""Check a Chrome trace-event file as written by the trace profiler.

usage: check_trace.py TRACE.json [--expect-loader] [--expect-gpu] [--gpu-dur-us US]

Checks: the file is JSON with a "traceEvents" list (or is a bare list); every event
has name, ph, ts, pid and tid; "X" events have dur >= 0; "B"/"E" events balance per
(pid, tid) and an "E" closes the name its "B" opened; within each (pid, tid) the
events appear in non-decreasing ts order; at least one non-metadata event is on tid 0
and, with --expect-loader, at least one is on a tid >= 1 (a loader worker).
With --expect-gpu (issue 18: ops timed by the accelerator's timer): a process named
"GPU <d>" with a thread named "stream compute" holds "X" events of cat "op" that do not
overlap (one stream runs one op at a time), each of --gpu-dur-us microseconds when given;
then one line "gpu_op NAME COUNT" per op name is printed, sorted.
Exit 0 and print "trace ok: N events, T threads", or exit 1 with the reason.
"""
import json
import sys

REQUIRED = ("name", "ph", "ts", "pid", "tid")


def fail(msg):
    print("check_trace: " + msg, file=sys.stderr)
    sys.exit(1)


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def load_events(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        fail("cannot read %s: %s" % (path, e.strerror))
    except (ValueError, UnicodeDecodeError) as e:
        fail("%s is not valid JSON: %s" % (path, e))
    events = doc.get("traceEvents") if isinstance(doc, dict) else doc
    if not isinstance(events, list):
        fail('%s has no "traceEvents" list' % path)
    return events


def check(events, expect_loader):
    last_ts = {}   # (pid, tid) -> ts of the previous event on that track
    open_b = {}    # (pid, tid) -> names of B events not yet ended
    work_tids = set()
    for i, e in enumerate(events):
        where = "event %d (%s)" % (i, json.dumps(e)[:120])
        if not isinstance(e, dict):
            fail(where + ": not an object")
        for k in REQUIRED:
            if k not in e:
                fail('%s: no "%s"' % (where, k))
        if not isinstance(e["name"], str) or not isinstance(e["ph"], str):
            fail(where + ": name and ph must be strings")
        if not is_num(e["ts"]) or not isinstance(e["tid"], int) or not isinstance(e["pid"], int):
            fail(where + ": ts must be a number, pid and tid integers")
        track = (e["pid"], e["tid"])
        ph = e["ph"]
        if ph == "X" and not (is_num(e.get("dur")) and e["dur"] >= 0):
            fail(where + ": X event without dur >= 0")
        if ph == "B":
            open_b.setdefault(track, []).append(e["name"])
        elif ph == "E":
            stack = open_b.get(track)
            if not stack:
                fail(where + ": E without a matching B on tid %d" % e["tid"])
            name = stack.pop()
            if e["name"] not in ("", name):
                fail('%s: E "%s" closes B "%s"' % (where, e["name"], name))
        if track in last_ts and e["ts"] < last_ts[track]:
            fail("%s: ts %s goes back from %s on pid %d tid %d"
                 % (where, e["ts"], last_ts[track], e["pid"], e["tid"]))
        last_ts[track] = e["ts"]
        if ph != "M":
            work_tids.add(e["tid"])
    for (pid, tid), stack in open_b.items():
        if stack:
            fail('B "%s" on pid %d tid %d never ended' % (stack[-1], pid, tid))
    if 0 not in work_tids:
        fail("no event on tid 0 (the loop thread)")
    if expect_loader and not any(t >= 1 for t in work_tids):
        fail("no event on a loader worker (tid >= 1)")
    return len(last_ts)


def meta_names(events, what):
    """(pid, tid) -> args.name of every metadata event called `what`."""
    return {(e["pid"], e["tid"]): e.get("args", {}).get("name")
            for e in events if e["ph"] == "M" and e["name"] == what}


def check_gpu(events, dur_us):
    procs = {pid: n for (pid, _), n in meta_names(events, "process_name").items()}
    threads = meta_names(events, "thread_name")
    gpu = [pid for pid, n in procs.items() if isinstance(n, str) and n.startswith("GPU ")]
    if not gpu:
        fail('no process named "GPU <d>" (process_name metadata)')
    counts = {}
    for pid in gpu:
        if threads.get((pid, 0)) != "stream compute":
            fail('%s (pid %d) has no thread named "stream compute"' % (procs[pid], pid))
        spans = [e for e in events if e["pid"] == pid and e["ph"] == "X"]
        if not spans:
            fail("%s (pid %d) has no spans" % (procs[pid], pid))
        end = None
        for e in spans:
            if e.get("cat") != "op":
                fail('%s: span "%s" has cat %s, not "op"' % (procs[pid], e["name"], e.get("cat")))
            if end is not None and e["ts"] < end - 1e-6:
                fail('%s: "%s" at %s starts before the previous op ends (%s)'
                     % (procs[pid], e["name"], e["ts"], end))
            if dur_us is not None and abs(e["dur"] - dur_us) > 1e-6:
                fail('%s: "%s" lasts %s us, expected %s' % (procs[pid], e["name"], e["dur"], dur_us))
            end = e["ts"] + e["dur"]
            counts[e["name"]] = counts.get(e["name"], 0) + 1
    for name in sorted(counts):
        print("gpu_op %s %d" % (name, counts[name]))


def main(argv):
    args, dur_us, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--gpu-dur-us" and i + 1 < len(argv):
            dur_us = float(argv[i + 1])
            i += 1
        elif argv[i] not in ("--expect-loader", "--expect-gpu"):
            args.append(argv[i])
        i += 1
    if len(args) != 1:
        fail(__doc__.strip().splitlines()[2])
    events = load_events(args[0])
    threads = check(events, "--expect-loader" in argv)
    if "--expect-gpu" in argv:
        check_gpu(events, dur_us)
    print("trace ok: %d events, %d threads" % (len(events), threads))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
