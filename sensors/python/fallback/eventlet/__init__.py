"""A fallback for sensors that `import eventlet` only to sleep or start a thread (StackStorm's sensors often do),
used when no real eventlet is installed: the wrapper puts this folder last on sys.path. It does not make anything
green: sleep is time.sleep and spawn starts a daemon thread.
"""

import threading
import time

__all__ = ["sleep", "spawn", "spawn_n", "monkey_patch", "GreenThread"]


def sleep(seconds=0):
    time.sleep(seconds)


class GreenThread(object):
    def __init__(self, func, args, kwargs):
        self._result = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(func, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, func, args, kwargs):
        try:
            self._result = func(*args, **kwargs)
        except BaseException as e:  # handed to wait()
            self._error = e

    def wait(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def kill(self, *args, **kwargs):
        pass  # threads cannot be killed; daemon threads end with the process


def spawn(func, *args, **kwargs):
    return GreenThread(func, args, kwargs)


def spawn_n(func, *args, **kwargs):
    spawn(func, *args, **kwargs)


def monkey_patch(*args, **kwargs):
    pass
