#!/usr/bin/env python3
"""Writes generated.jsonl: deterministic combinations of operands, operators, filters and statements.

Run from this directory: python3 gen_corpus.py (the output is committed; the differential test reads it).
"""
import itertools
import json
import random

CTX = {
    "i": 7, "j": -2, "z": 0, "f": 1.5, "g": -0.25, "t": True, "u": False, "n": None,
    "s": "Hello, World", "e": "", "p": "/var/log/app.log", "d5": "5",
    "l": [1, 2, 3], "m": ["b", "a", "c"], "el": [], "o": {"k": "v", "a": 1}, "eo": {},
}
OPERANDS = ["i", "j", "z", "f", "g", "t", "u", "n", "s", "e", "l", "el", "o", "missing", "3", "2.0", "'x'", "[4]"]
BINOPS = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">=", "and", "or", "in"]
FILTERS = ["upper", "lower", "capitalize", "title", "trim", "length", "first", "last", "int", "float", "string", "list",
           "tojson", "to_json_string", "json_escape", "basename", "dirname", "default('D')", "join('+')", "reverse | list",
           "replace('l', 'L')", "regex_replace('[aeiou]', '_')", "regex_search('o')", "sort", "unique | list", "abs", "to_yaml_string"]
TESTS = ["defined", "undefined", "none", "string", "number", "sequence", "mapping", "even"]

rng = random.Random(20261127)
cases = []


def add(tpl):
    cases.append({"template": tpl, "context": CTX})


# Binary operators over a sample of operand pairs.
pairs = list(itertools.product(OPERANDS, OPERANDS))
for op in BINOPS:
    for a, b in rng.sample(pairs, 9):
        add("{{ %s %s %s }}" % (a, op, b))
# Filters over operands.
for flt in FILTERS:
    for a in rng.sample(["s", "e", "p", "l", "m", "el", "o", "i", "f", "t", "n", "missing", "d5"], 5):
        add("{{ %s | %s }}" % (a, flt))
# Filter chains.
for _ in range(30):
    a = rng.choice(["s", "p", "m", "l", "d5"])
    chain = " | ".join(rng.sample(["upper", "lower", "trim", "string", "list", "first", "last", "length", "reverse", "title"], 2))
    add("{{ %s | %s }}" % (a, chain))
# Tests.
for test in TESTS:
    for a in rng.sample(["i", "f", "t", "n", "s", "l", "o", "missing", "e", "z"], 4):
        add("{{ %s is %s }} {{ %s is not %s }}" % (a, test, a, test))
# Precedence mixes.
for _ in range(40):
    a, b, c = (rng.choice(["i", "j", "f", "3", "2", "z"]) for _ in range(3))
    o1, o2 = rng.choice(["+", "-", "*", "**", "~"]), rng.choice(["+", "*", "==", "<", "and", "or"])
    add("{{ %s %s %s %s %s }}" % (a, o1, b, o2, c))
# Statements.
for a in ["l", "m", "el", "s", "o", "missing"]:
    add("{%% for x in %s %%}{{ loop.index }}:{{ x }}{%% if not loop.last %%},{%% endif %%}{%% else %%}none{%% endfor %%}" % a)
    add("{%% if %s %%}T{%% elif i > 5 %%}E{%% else %%}F{%% endif %%}" % a)
    add("{%% set v = %s | default('dv') %%}[{{ v }}]" % a)
for ws in ["{%- if t %} x {% endif -%}", " {% if t -%} x {%- endif %} ", "a\n{{- s -}}\nb", "a\n{#- c -#}\nb"]:
    add(ws)

# Filters with attribute= over records (dotted paths, indexes), chained (issue 12): appended so that the cases
# above keep their lines.
RECS = {"r": [{"n": "b", "a": 3, "t": {"k": "X", "v": 2.5}, "l": [2, "q"]}, {"n": "A", "a": 1, "t": {"k": "y", "v": 1}, "l": [1]},
              {"n": "c", "a": 3, "t": {"k": "x", "v": -1}, "l": [3, "p"]}, {"n": "a", "a": 2, "t": {"k": "Y", "v": 0}, "l": [0, "r"]}]}
ATTRS = ["n", "a", "t.k", "t.v", "l.0", "l.1", "missing"]
FIRST = ["sort(attribute='%s')", "sort(attribute='%s', reverse=true)", "sort(attribute='%s', case_sensitive=true)",
         "unique(attribute='%s')", "selectattr('%s')", "rejectattr('%s')", "groupby('%s') | map('last')"]
LAST = ["map(attribute='%s') | list", "map(attribute='%s', default='-') | join(',')", "join('|', attribute='%s')",
        "min(attribute='%s')", "max(attribute='%s')", "sum(attribute='%s')", "groupby('%s') | map(attribute='grouper') | list"]
for _ in range(60):
    f1 = rng.choice(FIRST) % rng.choice(ATTRS)
    f2 = rng.choice(LAST) % rng.choice(ATTRS)
    cases.append({"template": "{{ r | %s | %s }}" % (f1, f2), "context": RECS})

with open("generated.jsonl", "w") as f:
    for c in cases:
        f.write(json.dumps(c, sort_keys=True) + "\n")
print(len(cases))
