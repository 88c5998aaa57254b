"""The datastore service python actions get as `self.action_service` (st2common/services/datastore.py).

Talks to Squall's API ({ST2_ACTION_API_URL}/keys) with the St2-Api-Key header. urllib is imported only when a
method is called, so actions that never touch the datastore start fast.
"""

import json

from st2common.constants.keyvalue import (
    ALLOWED_SCOPES,
    DATASTORE_KEY_SEPARATOR,
    FULL_SYSTEM_SCOPE,
    FULL_USER_SCOPE,
    SYSTEM_SCOPE,
    USER_SCOPE,
)

__all__ = ["ActionDatastoreService", "KeyValuePair"]

_TIMEOUT_SECONDS = 10


class KeyValuePair(object):
    """One datastore item as list_values returns it (name, value, scope, secret, ttl, ...)."""

    def __init__(self, **fields):
        self.name = None
        self.value = None
        self.scope = None
        self.secret = False
        self.encrypted = False
        self.ttl = None
        self.user = None
        self.expire_timestamp = None
        self.description = None
        for k, v in fields.items():
            setattr(self, k, v)

    def __repr__(self):
        return "KeyValuePair(name=%r, scope=%r)" % (self.name, self.scope)


def _full_scope(scope):
    if scope not in ALLOWED_SCOPES:
        raise ValueError(
            'Scope "%s" is not valid. Allowed scopes are: %s' % (scope, ", ".join(ALLOWED_SCOPES))
        )
    return {SYSTEM_SCOPE: FULL_SYSTEM_SCOPE, USER_SCOPE: FULL_USER_SCOPE}.get(scope, scope)


class ActionDatastoreService(object):
    def __init__(self, pack, class_name, api_url, auth_token="", user="", api_key=""):
        # Actions authenticate with their execution's token (X-Auth-Token); sensors, which outlive any execution,
        # with the key the sensors role hands them (St2-Api-Key).
        self._pack = pack
        self._class_name = class_name
        self._api_url = api_url.rstrip("/")
        self._auth_token = auth_token
        self._api_key = api_key
        self._user = user

    @property
    def datastore_service(self):
        """StackStorm's ActionService keeps its datastore service here; actions call
        `self.action_service.datastore_service.get_value(...)` as well as `self.action_service.get_value(...)`."""
        return self

    # StackStorm: local keys are prefixed "<pack>.<ClassName>:".
    def _local_prefix(self):
        return "%s.%s%s" % (self._pack, self._class_name, DATASTORE_KEY_SEPARATOR)

    def _full_name(self, name, local):
        return self._local_prefix() + name if local else name

    def _request(self, method, path, query=None, body=None):
        import urllib.error
        import urllib.parse
        import urllib.request

        if not self._api_url:
            raise RuntimeError("action_service: no API URL (ST2_ACTION_API_URL is not set)")
        url = self._api_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if self._auth_token:
            req.add_header("X-Auth-Token", self._auth_token)
        elif self._api_key:
            req.add_header("St2-Api-Key", self._api_key)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=_TIMEOUT_SECONDS) as res:
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = raw.decode("utf-8", "replace")
            return e.code, payload

    @staticmethod
    def _quote(name):
        import urllib.parse

        return urllib.parse.quote(name, safe="")

    @staticmethod
    def _fail(what, status, payload):
        message = payload.get("faultstring") if isinstance(payload, dict) else payload
        raise RuntimeError("action_service.%s: API answered %s: %s" % (what, status, message))

    def get_user_info(self):
        return {"username": self._user} if self._user else {}

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        key_prefix = self._full_name(prefix or "", local) if (local or prefix) else None
        status, payload = self._request(
            "GET",
            "/keys",
            {"prefix": key_prefix, "scope": FULL_SYSTEM_SCOPE, "limit": limit, "offset": offset or None},
        )
        if status != 200:
            self._fail("list_values", status, payload)
        return [KeyValuePair(**item) for item in (payload or [])]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        status, payload = self._request(
            "GET",
            "/keys/" + self._quote(self._full_name(name, local)),
            {"scope": _full_scope(scope), "decrypt": "true" if decrypt else None},
        )
        if status == 404:
            return None
        if status != 200:
            self._fail("get_value", status, payload)
        return payload.get("value")

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        full_name = self._full_name(name, local)
        value = str(value)  # as StackStorm: datastore values are strings
        body = {"name": full_name, "value": value, "scope": _full_scope(scope), "secret": bool(encrypt)}
        if ttl:
            body["ttl"] = ttl
        status, payload = self._request("PUT", "/keys/" + self._quote(full_name), body=body)
        if status not in (200, 201):
            self._fail("set_value", status, payload)
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        status, payload = self._request(
            "DELETE", "/keys/" + self._quote(self._full_name(name, local)), {"scope": _full_scope(scope)}
        )
        if status == 404:
            return False
        if status not in (200, 204):
            self._fail("delete_value", status, payload)
        return True
