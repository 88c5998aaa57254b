from st2reactor.sensor.base import PollingSensor


class WatcherSensor(PollingSensor):
    def setup(self):
        pass

    def poll(self):
        self.sensor_service.dispatch(trigger="full.changed", payload={"id": 1})

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
