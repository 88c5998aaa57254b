"""core.inject_trigger: dispatches a trigger instance through the API's generic webhook (/webhooks/st2).

The runner gives every action the API URL (ST2_ACTION_API_URL) and a token valid while the execution runs
(ST2_ACTION_AUTH_TOKEN, sent as X-Auth-Token), as StackStorm gives its actions an API client.
"""

import json
import os
import urllib.error
import urllib.request

from st2common.runners.base_action import Action

__all__ = ["InjectTriggerAction"]

_TIMEOUT_SECONDS = 10


class InjectTriggerAction(Action):
    def run(self, trigger, payload=None, trace_tag=None):
        api_url = os.environ.get("ST2_ACTION_API_URL", "").rstrip("/")
        if not api_url:
            raise RuntimeError("core.inject_trigger: no API URL (ST2_ACTION_API_URL is not set)")
        body = {"trigger": trigger, "payload": payload or {}}
        if trace_tag:
            body["trace_tag"] = trace_tag
        req = urllib.request.Request(
            api_url + "/webhooks/st2", data=json.dumps(body).encode("utf-8"), method="POST"
        )
        req.add_header("Content-Type", "application/json")
        req.add_header("X-Auth-Token", os.environ.get("ST2_ACTION_AUTH_TOKEN", ""))
        if trace_tag:
            req.add_header("St2-Trace-Tag", trace_tag)
        try:
            with urllib.request.urlopen(req, timeout=_TIMEOUT_SECONDS) as res:
                return json.loads(res.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                message = json.loads(raw).get("faultstring", raw.decode("utf-8", "replace"))
            except (ValueError, AttributeError):
                message = raw.decode("utf-8", "replace")
            raise RuntimeError(
                'core.inject_trigger: dispatching "%s" failed: API answered %s: %s' % (trigger, e.code, message)
            )
