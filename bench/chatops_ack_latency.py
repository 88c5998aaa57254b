#!/usr/bin/python3
"""Ack latency of signed Slack slash commands against a running squall server (issue 17 performance).

Usage: bench/chatops_ack_latency.py API_URL API_KEY [--aliases 200] [--requests 400] [--concurrency 1,10,50]

Creates N aliases (benchack.alias_<i>: "benchverb<i> {{message}}" -> core.echo), sets the chatops
signing secret, then POSTs signed slash commands to /api/v1/chatops/slack from C threads and prints p50/p90/p99 of
the time to the ack (the HTTP answer) per concurrency level. Everything stays on 127.0.0.1. Standard library only.
"""
import argparse, hashlib, hmac, json, threading, time, urllib.parse, urllib.request

SECRET = "bench-signing-secret"


def call(url, key, method, path, body=None):
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"St2-Api-Key": key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def slash(url, text):
    body = urllib.parse.urlencode({"command": "/squall", "text": text, "user_name": "bench", "user_id": "U1",
                                   "channel_id": "C1", "response_url": ""}).encode()
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(url + "/chatops/slack", data=body, method="POST", headers={
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig,
        "Content-Type": "application/x-www-form-urlencoded"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        answer = json.loads(r.read())
    took = time.perf_counter() - t0
    if answer.get("response_type") != "in_channel":
        raise RuntimeError("unexpected answer: %s" % answer)
    return took


def main():
    p = argparse.ArgumentParser()
    p.add_argument("api_url")
    p.add_argument("api_key")
    p.add_argument("--aliases", type=int, default=200)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--concurrency", default="1,10,50")
    a = p.parse_args()
    call(a.api_url, a.api_key, "PUT", "/configs/chatops", {"slack_signing_secret": SECRET})
    for i in range(a.aliases):
        call(a.api_url, a.api_key, "POST", "/actionalias", {
            "name": "alias_%d" % i, "pack": "benchack", "action_ref": "core.echo",
            "formats": ["benchverb%d {{message}}" % i]})
    slash(a.api_url, "benchverb0 warm up")
    for c in [int(x) for x in a.concurrency.split(",")]:
        times, lock, errors = [], threading.Lock(), []
        per = max(1, a.requests // c)

        def worker(w):
            for k in range(per):
                try:
                    t = slash(a.api_url, "benchverb%d hello %d" % ((w * per + k) % a.aliases, k))
                    with lock:
                        times.append(t)
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(str(e))

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(c)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        times.sort()
        pct = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
        print("concurrency %3d: %d acks in %.1f s (%.0f/s), p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms, "
              "errors %d" % (c, len(times), wall, len(times) / wall, pct(0.5), pct(0.9), pct(0.99),
                             times[-1] * 1000, len(errors)))


if __name__ == "__main__":
    main()
