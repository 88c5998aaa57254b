"""Runs one StackStorm Python sensor for Squall's sensors role, over the external sensor protocol.

    squall_sensor_wrapper.py --pack=P --file-path=F --class-name=C [--trigger-type-refs=a.b,c.d] [--poll-interval=N]

The pack config arrives as JSON on stdin; SQUALL_API_URL / SQUALL_API_KEY reach the API (datastore, rules). Each
sensor_service.dispatch() writes one line `{"trigger", "payload", "trace_tag"}` to the real stdout; whatever the
sensor itself prints goes to stderr, which Squall logs with the sensor's name, as it does the sensor's logger.

Trigger watching: the rules that use the sensor's trigger types are the sensor's triggers (a type with
parameters). They are read from the API before setup() (add_trigger for each) and then every
SQUALL_SENSOR_TRIGGER_POLL seconds (default 5): add_trigger / update_trigger / remove_trigger for what changed.

Stopping: SIGTERM (or SIGINT) calls cleanup() and exits 0. run() returning keeps the process (and its trigger
watcher) alive until it is stopped, so that a sensor whose run() only starts threads keeps working.

Exit codes: 0 when stopped, 1 when setup() or run() raised, 2 when the sensor could not be loaded.
"""

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import time

EXIT_LOAD_ERROR = 2

_protocol_lock = threading.Lock()
_protocol_out = None  # the real stdout; sys.stdout goes to stderr


def _load_error(message):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    sys.exit(EXIT_LOAD_ERROR)


def _emit(obj):
    line = json.dumps(obj, separators=(",", ":"), default=str)
    with _protocol_lock:
        _protocol_out.write(line + "\n")
        _protocol_out.flush()


def _trigger_ref(trigger, pack):
    """dispatch() takes a ref ("pack.name") or a dict ({ref} / {type} / {name, pack})."""
    if isinstance(trigger, dict):
        if trigger.get("ref"):
            return trigger["ref"]
        if trigger.get("type"):
            return trigger["type"]
        if trigger.get("name"):
            return "%s.%s" % (trigger.get("pack") or pack, trigger["name"])
        raise ValueError("sensor_service.dispatch: trigger %r has no ref, type or name" % (trigger,))
    return str(trigger)


class SensorService(object):
    """What a sensor gets as self.sensor_service (StackStorm's st2reactor.container.sensor_wrapper.SensorService)."""

    def __init__(self, pack, class_name, logger_name, api_url, api_key):
        from st2common.services.datastore import ActionDatastoreService

        self._pack = pack
        self._class_name = class_name
        self._logger_name = logger_name
        # StackStorm's SensorDatastoreService: local keys are "<pack>.<ClassName>:<name>", as for actions.
        self._datastore_service = ActionDatastoreService(
            pack=pack, class_name=class_name, api_url=api_url, api_key=api_key, user="sensor_service"
        )

    @property
    def datastore_service(self):
        return self._datastore_service

    def get_logger(self, name):
        logger = logging.getLogger("%s.%s" % (self._logger_name, name))
        logger.propagate = True
        return logger

    def get_user_info(self):
        return self._datastore_service.get_user_info()

    def dispatch(self, trigger, payload=None, trace_tag=None):
        if payload is not None and not isinstance(payload, dict):
            raise ValueError("sensor_service.dispatch: payload must be a dict, not %s" % type(payload).__name__)
        line = {"trigger": _trigger_ref(trigger, self._pack), "payload": payload or {}}
        if trace_tag:
            line["trace_tag"] = str(trace_tag)
        _emit(line)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        tag = None
        if isinstance(trace_context, dict):
            tag = trace_context.get("trace_tag")
        elif trace_context is not None:
            tag = getattr(trace_context, "trace_tag", None)
        return self.dispatch(trigger, payload=payload, trace_tag=tag)

    def list_values(self, local=True, prefix=None, limit=None, offset=None):
        return self._datastore_service.list_values(local=local, prefix=prefix, limit=limit, offset=offset)

    def get_value(self, name, local=True, scope="system", decrypt=False):
        return self._datastore_service.get_value(name=name, local=local, scope=scope, decrypt=decrypt)

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        return self._datastore_service.set_value(
            name=name, value=value, ttl=ttl, local=local, scope=scope, encrypt=encrypt
        )

    def delete_value(self, name, local=True, scope="system"):
        return self._datastore_service.delete_value(name=name, local=local, scope=scope)


class TriggerWatcher(object):
    """Calls add_trigger / update_trigger / remove_trigger as the enabled rules using the sensor's types change."""

    def __init__(self, sensor, trigger_types, api_url, api_key, logger):
        self._sensor = sensor
        self._types = set(trigger_types)
        self._api_url = api_url.rstrip("/")
        self._api_key = api_key
        self._logger = logger
        self._known = {}  # id -> trigger dict

    def _fetch(self):
        import urllib.request

        req = urllib.request.Request(self._api_url + "/rules?limit=-1")
        req.add_header("St2-Api-Key", self._api_key)
        with urllib.request.urlopen(req, timeout=10) as res:
            rules = json.loads(res.read() or b"[]")
        triggers = {}
        for rule in rules:
            trigger = rule.get("trigger") or {}
            ttype = trigger.get("type", "")
            if not rule.get("enabled", True) or ttype not in self._types:
                continue
            parameters = trigger.get("parameters") or {}
            # The id GET /api/v1/triggers and /timers give the same trigger (the parameters as compact JSON).
            key = ttype + ":" + json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            tid = hashlib.sha256(("trigger:" + key).encode("utf-8")).hexdigest()[:24]
            tpack = ttype.split(".", 1)[0]
            triggers[tid] = {
                "id": tid,
                "name": tid,
                "pack": tpack,
                "ref": "%s.%s" % (tpack, tid),
                "uid": "trigger:%s:%s" % (tpack, tid),
                "type": ttype,
                "parameters": parameters,
            }
        return triggers

    def sync(self):
        if not self._types or not self._api_url:
            return
        try:
            current = self._fetch()
        except Exception as e:  # the API may be restarting: keep what we know and try again later
            self._logger.warning("cannot read the triggers of this sensor from the API: %s", e)
            return
        for tid, trigger in current.items():
            if tid not in self._known:
                self._sensor.add_trigger(trigger)
            elif self._known[tid] != trigger:
                self._sensor.update_trigger(trigger)
        for tid, trigger in self._known.items():
            if tid not in current:
                self._sensor.remove_trigger(trigger)
        self._known = current

    def start(self, interval):
        def loop():
            while True:
                time.sleep(interval)
                try:
                    self.sync()
                except Exception:
                    self._logger.exception("trigger watcher: the sensor raised")

        threading.Thread(target=loop, name="trigger-watcher", daemon=True).start()


def _load_sensor_class(file_path, class_name, pack_path):
    from st2reactor.sensor.base import BaseSensor

    module_dir = os.path.dirname(os.path.abspath(file_path))
    for path in (os.path.join(pack_path, "lib") if pack_path else None, module_dir):
        if path and os.path.isdir(path) and path not in sys.path:
            sys.path.insert(0, path)
    module_name = os.path.splitext(os.path.basename(file_path))[0]
    spec = importlib.util.spec_from_file_location(module_name, file_path)
    if spec is None or spec.loader is None:
        _load_error("cannot load sensor file %s" % file_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as e:
        import traceback

        traceback.print_exc()
        _load_error("sensor %s imports module '%s', which is not installed" % (file_path, e.name))
    except Exception:
        import traceback

        traceback.print_exc()
        _load_error("sensor %s failed to import" % file_path)
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        _load_error('sensor %s has no class "%s"' % (file_path, class_name))
    if not issubclass(cls, BaseSensor):
        _load_error(
            'sensor class "%s" in %s does not derive from st2reactor.sensor.base.Sensor or PollingSensor'
            % (class_name, file_path)
        )
    return cls


def main():
    global _protocol_out

    parser = argparse.ArgumentParser(description="Squall's runner of StackStorm Python sensors")
    parser.add_argument("--pack", required=True)
    parser.add_argument("--file-path", required=True)
    parser.add_argument("--class-name", required=True)
    parser.add_argument("--trigger-type-refs", default="")
    parser.add_argument("--poll-interval", type=int, default=None)
    args = parser.parse_args()

    # The protocol owns the real stdout; anything the sensor prints goes to stderr (the log).
    _protocol_out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    try:
        text = sys.stdin.read()
        config = json.loads(text) if text.strip() else {}
    except ValueError as e:
        _load_error("squall sensor wrapper: stdin is not the pack config as JSON: %s" % e)
    sys.stdin = open(os.devnull)

    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("SQUALL_SENSOR_LOG_LEVEL", "INFO").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    logger_name = "SensorWrapper.%s.%s" % (args.pack, args.class_name)
    logger = logging.getLogger(logger_name)

    # StackStorm sensors often `import eventlet` just to sleep: without a real eventlet, a small fallback.
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fallback"))

    if not os.path.isfile(args.file_path):
        _load_error("sensor entry_point %s does not exist" % args.file_path)
    pack_path = os.path.dirname(os.path.dirname(os.path.abspath(args.file_path)))
    sensor_cls = _load_sensor_class(args.file_path, args.class_name, pack_path)

    from st2reactor.sensor.base import PollingSensor

    api_url = os.environ.get("SQUALL_API_URL", "")
    api_key = os.environ.get("SQUALL_API_KEY", "")
    service = SensorService(args.pack, args.class_name, logger_name, api_url, api_key)
    kwargs = {"sensor_service": service, "config": config}
    if args.poll_interval and issubclass(sensor_cls, PollingSensor):
        kwargs["poll_interval"] = args.poll_interval
    try:
        sensor = sensor_cls(**kwargs)
    except Exception:
        logger.exception('cannot instantiate sensor class "%s"', args.class_name)
        sys.exit(EXIT_LOAD_ERROR)

    stopped = {"cleanup_done": False}

    def cleanup():
        if stopped["cleanup_done"]:
            return
        stopped["cleanup_done"] = True
        try:
            sensor.cleanup()
        except Exception:
            logger.exception("cleanup() raised")

    def on_signal(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    types = [t for t in args.trigger_type_refs.split(",") if t]
    watcher = TriggerWatcher(sensor, types, api_url, api_key, logger)
    try:
        watcher.sync()  # add_trigger for the existing triggers, before setup() as StackStorm does
        sensor.setup()
        watcher.start(float(os.environ.get("SQUALL_SENSOR_TRIGGER_POLL", "5")))
        if isinstance(sensor, PollingSensor):
            logger.info("running sensor in active mode (poll interval=%ss)", sensor.get_poll_interval())
        else:
            logger.info("running sensor in passive mode")
        sensor.run()
        logger.info("run() returned; the sensor stays up until it is stopped")
        while True:
            time.sleep(3600)
    except SystemExit as e:
        cleanup()
        raise e
    except Exception:
        logger.exception('sensor "%s" raised', args.class_name)
        cleanup()
        sys.exit(1)


if __name__ == "__main__":
    main()
