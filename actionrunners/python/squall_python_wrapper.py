"""Runs one StackStorm python-script action for Squall's python-script runner.

Reads a JSON document from stdin: {pack, pack_path, file_path, parameters, config, log_level}.
Imports the action file, instantiates its st2common.runners.base_action.Action subclass with the pack config,
calls run(**parameters) and prints {"result": ..., "status": bool} between two RESULT_DELIMITER marks on one
stdout line (the runner strips that line from the action's output). The datastore API is reached through
ST2_ACTION_API_URL with the X-Auth-Token header from ST2_ACTION_AUTH_TOKEN, a token valid while this execution
runs (see st2common/services/datastore.py).

Exit codes: 0 after run() returned (the status says succeeded/failed), 1 when run() raised, 2 when the
action could not be loaded (missing module, no Action class, bad input).
"""

import importlib.util
import json
import os
import sys

# Kept small for start-up time: inspect, logging and traceback are imported only when needed.

RESULT_DELIMITER = "%%%%%~=~=~=************=~=~=~%%%%"
EXIT_LOAD_ERROR = 2


def _load_error(message):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    sys.exit(EXIT_LOAD_ERROR)


def _import_action_class(file_path, pack_path):
    from st2common.runners.base_action import Action

    module_dir = os.path.dirname(os.path.abspath(file_path))
    # As StackStorm: the action's own folder and the pack's actions/lib are importable.
    for path in (os.path.join(pack_path, "actions", "lib") if pack_path else None, module_dir):
        if path and path not in sys.path:
            sys.path.insert(0, path)
    module_name = os.path.splitext(os.path.basename(file_path))[0]
    spec = importlib.util.spec_from_file_location(module_name, file_path)
    if spec is None or spec.loader is None:
        _load_error("cannot load action file %s" % file_path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as e:
        import traceback

        hint = ""
        if pack_path and os.path.isfile(os.path.join(pack_path, "requirements.txt")):
            hint = (
                "; the pack lists its Python dependencies in %s: install them into the pack's virtualenv "
                "(<data_dir>/virtualenvs/<pack>) or the runner's python3"
                % os.path.join(pack_path, "requirements.txt")
            )
        traceback.print_exc()
        _load_error(
            "action %s imports module '%s', which is not installed%s" % (file_path, e.name, hint)
        )
    except Exception:
        import traceback

        traceback.print_exc()
        _load_error("action %s failed to import: %s" % (file_path, _last_line(traceback.format_exc())))
    classes = [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, Action) and c is not Action and c.__module__ == module.__name__
    ]
    if not classes:
        _load_error(
            "action %s defines no class derived from st2common.runners.base_action.Action" % file_path
        )
    if len(classes) > 1:
        _load_error(
            "action %s defines several Action classes (%s); StackStorm expects exactly one"
            % (file_path, ", ".join(sorted(c.__name__ for c in classes)))
        )
    return classes[0]


def _last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1] if lines else text


def main():
    try:
        request = json.loads(sys.stdin.read() or "{}")
    except ValueError as e:
        _load_error("squall python wrapper: stdin is not JSON: %s" % e)
    sys.stdin = open(os.devnull)  # the action gets no stdin, as in StackStorm
    file_path = request.get("file_path", "")
    pack = request.get("pack", "")
    pack_path = request.get("pack_path", "")
    if not file_path or not os.path.isfile(file_path):
        _load_error("action entry_point %s does not exist" % (file_path or "(empty)"))

    from st2common.runners import base_action

    base_action.configure_logging(request.get("log_level") or "DEBUG")
    action_cls = _import_action_class(file_path, pack_path)

    from st2common.services.datastore import ActionDatastoreService

    config = request.get("config") or {}
    service = ActionDatastoreService(
        pack=pack,
        class_name=action_cls.__name__,
        api_url=os.environ.get("ST2_ACTION_API_URL", ""),
        auth_token=os.environ.get("ST2_ACTION_AUTH_TOKEN", ""),
        user=request.get("user", ""),
    )
    try:
        action = action_cls(config=config, action_service=service)
    except TypeError:
        action = action_cls(config)  # actions with an older __init__(self, config) signature
    action.action_service = service
    parameters = request.get("parameters") or {}
    try:
        output = action.run(**parameters)
    except Exception:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        sys.exit(1)

    status = True
    if isinstance(output, tuple) and len(output) == 2 and isinstance(output[0], bool):
        status, output = output
    try:
        serialized = json.dumps({"result": output, "status": status})
    except (TypeError, ValueError):
        # StackStorm stringifies results that are not JSON serializable.
        serialized = json.dumps({"result": str(output), "status": status}, default=str)
    sys.stdout.flush()
    sys.stdout.write(RESULT_DELIMITER + serialized + RESULT_DELIMITER + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
