#!/usr/bin/env python3
"""Differential-test oracle: renders every corpus case with the real Jinja2 (Debian's python3-jinja2).

Usage: oracle.py FILE.jsonl... ; prints one JSON line per case: {"id": "file:line", "out": str} or
{"id": ..., "error": str}. A case with "env": "stackstorm" renders with trim_blocks and lstrip_blocks. Contexts are loaded with keys sorted (Squall's JSON objects are key-ordered).
The StackStorm filters are registered with their st2common.jinja.filters definitions (semver and jsonpath_rw as st2 uses
them: Debian's python3-semver and python3-jsonpath-rw).
"""
import json
import os
import re
import sys

import datetime

import jinja2
import jsonpath_rw
import semver
import yaml


def sort_keys(v):
    if isinstance(v, dict):
        return {k: sort_keys(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [sort_keys(x) for x in v]
    return v


def to_json_string(value, indent=None, sort_keys=False, separators=(",", ": ")):
    return json.dumps(value, indent=indent, separators=separators, sort_keys=sort_keys)


def from_json_string(value):
    return json.loads(str(value))


def to_yaml_string(value, indent=None, allow_unicode=True):
    return yaml.safe_dump(value, indent=indent, allow_unicode=allow_unicode, default_flow_style=False)


def json_escape(value):
    return json.dumps(value).strip('"')


def _flags(ignorecase):
    return re.I if ignorecase else 0


def regex_match(value, pattern, ignorecase=False):
    if not isinstance(value, str):
        value = str(value)
    return bool(re.match(pattern, value, _flags(ignorecase)))


def regex_replace(value, pattern, replacement, ignorecase=False):
    if not isinstance(value, str):
        value = str(value)
    return re.compile(pattern, _flags(ignorecase)).sub(replacement, value)


def regex_search(value, pattern, ignorecase=False):
    if not isinstance(value, str):
        value = str(value)
    return bool(re.search(pattern, value, _flags(ignorecase)))


def regex_substring(value, pattern, result_index=0, ignorecase=False):
    if not isinstance(value, str):
        value = str(value)
    return re.findall(pattern, value, _flags(ignorecase))[result_index]


def use_none(value):
    return "%*****__%NONE%__*****%" if value is None else value


def from_yaml_string(value):
    return yaml.safe_load(str(value))


def to_complex(value):
    return json.dumps(value)


def jsonpath_query(value, query):
    matches = [m.value for m in jsonpath_rw.parse(query).find(value)]
    return matches or None


def to_human_time_from_seconds(seconds):
    # st2common's time function: datetime(1, 1, 1) + timedelta(seconds); years, day of the month - 1, h, m, s.
    assert isinstance(seconds, (int, float))
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return "%s\u03bcs" % seconds
    if isinstance(seconds, float):
        seconds = int(round(seconds))
    d = datetime.datetime(1, 1, 1) + datetime.timedelta(seconds=seconds)
    parts = [d.year - 1, d.day - 1, d.hour, d.minute, d.second]
    first = next(i for i, x in enumerate(parts) if x)
    return "".join("%s%s" % (p, u) for p, u in zip(parts[first:], "ydhms"[first:]))


def _semver(value):
    return semver.VersionInfo.parse(value)


def version_compare(value, pattern):
    return _semver(value).compare(pattern)


def version_match(value, pattern):
    return _semver(value).match(pattern)


def version_strip_patch(value):
    v = _semver(value)
    return "%s.%s" % (v.major, v.minor)


def make_env(**options):
    env = jinja2.Environment(**options)
    env.filters.update(
        {
            "to_json_string": to_json_string,
            "from_json_string": from_json_string,
            "to_yaml_string": to_yaml_string,
            "json_escape": json_escape,
            "regex_match": regex_match,
            "regex_replace": regex_replace,
            "regex_search": regex_search,
            "regex_substring": regex_substring,
            "basename": os.path.basename,
            "dirname": os.path.dirname,
            "use_none": use_none,
            "from_yaml_string": from_yaml_string,
            "to_complex": to_complex,
            "jsonpath_query": jsonpath_query,
            "to_human_time_from_seconds": to_human_time_from_seconds,
            "version_compare": version_compare,
            "version_more_than": lambda v, p: version_compare(v, p) == 1,
            "version_less_than": lambda v, p: version_compare(v, p) == -1,
            "version_equal": lambda v, p: version_compare(v, p) == 0,
            "version_match": version_match,
            "version_bump_major": lambda v: str(_semver(v).bump_major()),
            "version_bump_minor": lambda v: str(_semver(v).bump_minor()),
            "version_bump_patch": lambda v: str(_semver(v).bump_patch()),
            "version_strip_patch": version_strip_patch,
        }
    )
    return env


def main():
    env = make_env()
    # StackStorm renders action parameters with trim_blocks and lstrip_blocks (st2common/util/jinja.py).
    st2_env = make_env(trim_blocks=True, lstrip_blocks=True)
    for path in sys.argv[1:]:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                case = json.loads(line)
                rec = {"id": "%s:%d" % (name, lineno)}
                try:
                    chosen = st2_env if case.get("env") == "stackstorm" else env
                    tmpl = chosen.from_string(case["template"])
                    rec["out"] = tmpl.render(**sort_keys(case.get("context", {})))
                except Exception as e:  # every Jinja failure counts as "an error"
                    rec["error"] = "%s: %s" % (type(e).__name__, e)
                print(json.dumps(rec))


if __name__ == "__main__":
    main()
