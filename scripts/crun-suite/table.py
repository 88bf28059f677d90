#!/usr/bin/env python3
# table.py DIR... : one row per test of crun's suite, one column per results directory
# (the TAP files run.sh wrote), then the pass/fail/skip counts of each column on stderr.
import glob
import os
import re
import sys

cols = sys.argv[1:]
res, tests = {}, []
for c in cols:
    for f in sorted(glob.glob(os.path.join(c, "test_*.tap"))):
        name = os.path.basename(f)[:-4]
        for line in open(f):
            m = re.match(r"(not ok|ok) \d+ - (\S+)( #SKIP)?", line)
            if not m:
                continue
            r = "skip" if m.group(3) else ("pass" if m.group(1) == "ok" else "FAIL")
            key = (name, m.group(2))
            if key not in tests:
                tests.append(key)
            res[(c,) + key] = r
print("| file | test | " + " | ".join(os.path.basename(c) for c in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for k in tests:
    print(f"| {k[0]} | {k[1]} | " + " | ".join(res.get((c,) + k, "-") for c in cols) + " |")
for c in cols:
    v = [res.get((c,) + k) for k in tests]
    print(f"# {os.path.basename(c)}: pass {v.count('pass')} fail {v.count('FAIL')} "
          f"skip {v.count('skip')} not run {v.count(None)}", file=sys.stderr)
