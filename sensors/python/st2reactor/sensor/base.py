"""The base classes StackStorm Python sensors derive from (st2reactor.sensor.base).

A sensor gets `sensor_service` (dispatch, get_logger, datastore calls) and its pack `config`. `Sensor.run()` is the
sensor's own loop; `PollingSensor.run()` calls `poll()` every `poll_interval` seconds. The Squall sensor wrapper
(squall_sensor_wrapper.py) calls add_trigger/update_trigger/remove_trigger as the rules using its trigger types
change, setup() once, then run(), and cleanup() when the sensor is stopped.
"""

import abc
import time

__all__ = ["BaseSensor", "Sensor", "PollingSensor"]


class BaseSensor(metaclass=abc.ABCMeta):
    def __init__(self, sensor_service, config=None):
        self.sensor_service = sensor_service
        self._sensor_service = sensor_service  # the older name, still used by many packs
        self.config = config or {}
        self._config = self.config

    @abc.abstractmethod
    def setup(self):
        """Runs once before run()."""

    @abc.abstractmethod
    def run(self):
        """The sensor's main loop."""

    @abc.abstractmethod
    def cleanup(self):
        """Runs when the sensor is stopped."""

    @abc.abstractmethod
    def add_trigger(self, trigger):
        """A trigger (a rule's trigger type with its parameters) of this sensor's types appeared."""

    @abc.abstractmethod
    def update_trigger(self, trigger):
        """A trigger of this sensor's types changed."""

    @abc.abstractmethod
    def remove_trigger(self, trigger):
        """A trigger of this sensor's types went away."""


class Sensor(BaseSensor):
    """A passive sensor: run() is its own loop (a server, a subscription, a sleep loop)."""

    @abc.abstractmethod
    def run(self):
        pass


class PollingSensor(BaseSensor):
    """An active sensor: poll() is called every poll_interval seconds (the metadata's poll_interval)."""

    def __init__(self, sensor_service, config=None, poll_interval=5):
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self):
        """Looks at the outside world once; dispatches what it found."""

    def run(self):
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self):
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        self._poll_interval = poll_interval
