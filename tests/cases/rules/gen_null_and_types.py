#!/usr/bin/python3
"""Writes null_and_types.jsonl: every StackStorm criteria operator (and alias) against null/absent values, null
patterns and mismatched types (number vs string, list vs scalar, mapping vs string), with the expected match
decided by StackStorm's own st2common/operators.py run under this Python.

    /usr/bin/python3 tests/cases/rules/gen_null_and_types.py PATH_TO_ST2_CHECKOUT > tests/cases/rules/null_and_types.jsonl

StackStorm's rule filter (st2reactor/rules/filter.py) looks the key up (an absent key gives None), calls the
operator, and treats an exception as "no match" (it records an enforcement failure); this script does the same.
Only operators.py is loaded; its two st2common imports get small stand-ins: date parsing (only non-string values
reach it here, and dateutil refuses those) and the payload lookup (unused without `search`).
"""
import datetime
import importlib.util
import json
import sys
import types

st2 = sys.argv[1]
for name in ("st2common", "st2common.util", "st2common.constants"):
    sys.modules[name] = types.ModuleType(name)
date_mod = types.ModuleType("st2common.util.date")


def _parse(value):
    if not isinstance(value, str):
        raise TypeError("Parser must be a string or character stream, not %s" % type(value).__name__)
    return datetime.datetime.fromisoformat(value)


date_mod.parse = _parse
date_mod.get_datetime_utc_now = lambda: datetime.datetime.now(datetime.timezone.utc)
sys.modules["st2common.util.date"] = date_mod
rules_mod = types.ModuleType("st2common.constants.rules")
rules_mod.TRIGGER_ITEM_PAYLOAD_PREFIX = "item"
sys.modules["st2common.constants.rules"] = rules_mod
payload_mod = types.ModuleType("st2common.util.payload")
payload_mod.PayloadLookup = object
sys.modules["st2common.util.payload"] = payload_mod
spec = importlib.util.spec_from_file_location("operators", st2 + "/st2common/st2common/operators.py")
ops = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ops)

ABSENT = object()
# (value name, value, pattern name, pattern) per operator. An absent key and a null value are the same to
# StackStorm (the lookup gives None); both are kept to show it.
PAIRS = [
    ("absent", ABSENT, "null", None),
    ("absent", ABSENT, "int 1", 1),
    ("absent", ABSENT, "string a", "a"),
    ("absent", ABSENT, "list", [1, "a"]),
    ("null", None, "null", None),
    ("null", None, "string a", "a"),
    ("int 1", 1, "null", None),
    ("string abc", "abc", "null", None),
    ("list", [1, "a"], "null", None),
    ("mapping", {"a": 1}, "null", None),
    ("int 1", 1, "string 1", "1"),
    ("string 1", "1", "int 1", 1),
    ("bool true", True, "int 1", 1),
    ("string abc", "abc", "list", ["abc"]),
    ("list", [1, "a"], "string a", "a"),
    ("mapping", {"a": 1}, "string a", "a"),
]
ALIAS_PAIRS = [PAIRS[0], PAIRS[5], PAIRS[10], PAIRS[14]]
# One name per operator function for the matrix; each other alias gets a few cases (the same function behind it).
canonical = {}
for n in sorted(ops.get_allowed_operators(), key=lambda n: (-len(n), n)):
    if n != "search":
        canonical.setdefault(ops.get_operator(n), n)
names = sorted(canonical.values())
aliases = sorted(n for n in ops.get_allowed_operators() if n != "search" and n not in names)


def cases():
    for op in names:
        for pair in PAIRS:
            yield (op,) + pair
    for op in aliases:
        for pair in ALIAS_PAIRS:
            yield (op,) + pair


def decide(op, value, pattern):
    try:
        return bool(ops.get_operator(op)(value=None if value is ABSENT else value, criteria_pattern=pattern))
    except Exception:
        return False


# JSON lines (one case per line; the corpus test reads *.jsonl beside *.yaml): hundreds of cases load in
# microseconds, where yaml-cpp takes a tenth of a second in every test process.
for op, vname, value, pname, pattern in cases():
    if (op.startswith("td_") or op.startswith("timediff")) and isinstance(value, str):
        continue  # a date string's answer depends on the time of the run
    expect = decide(op, value, pattern)
    case = {
        "name": "%s %s value %s pattern" % (op, vname, pname),
        "rule": {"criteria": {"trigger.v": {"type": op, "pattern": pattern}}},
        # A payload with another key for an absent one: st2 never matches an empty payload against criteria.
        "payload": {"w": 0} if value is ABSENT else {"v": value},
        "expect": expect,
    }
    if not expect:
        case["failing"] = "trigger.v"
    print(json.dumps(case))
