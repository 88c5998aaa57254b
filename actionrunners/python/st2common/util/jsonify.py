"""st2common.util.jsonify helpers actions use."""

import json

__all__ = ["json_encode", "json_loads", "try_loads", "get_json_type_for_python_value"]


def json_encode(obj, indent=None, sort_keys=False):
    return json.dumps(obj, indent=indent, sort_keys=sort_keys, default=str)


def json_loads(obj, keys=None):
    """Parses the JSON strings of `obj` at `keys` (all keys when None); values that are not JSON stay as they are."""
    if not obj:
        return obj
    for key in keys if keys else list(obj.keys()):
        try:
            obj[key] = json.loads(obj[key])
        except (TypeError, ValueError, KeyError):
            pass
    return obj


def try_loads(s):
    try:
        return json.loads(s) if s and isinstance(s, str) else s
    except ValueError:
        return s


def get_json_type_for_python_value(value):
    for types, name in (((bool,), "boolean"), ((str,), "string"), ((int,), "integer"), ((float,), "number"),
                        ((dict,), "object"), ((list, tuple), "array")):
        if isinstance(value, types):
            return name
    if value is None:
        return "null"
    raise ValueError("Unknown type: %s" % type(value))
