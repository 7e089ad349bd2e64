"""checks - the assertion helper of the Python tests in testing/cli: check() records and prints a
failed condition and goes on (so one run shows every failure); finish() prints the verdict and
exits 1 when any check failed."""
import sys

_failed = []


def check(cond, what):
    if not cond:
        _failed.append(what)
        print("check failed:", what)
    return bool(cond)


def finish(name):
    print(f"{name}:", "ok" if not _failed else f"{len(_failed)} failed")
    sys.exit(1 if _failed else 0)
