from st2common.runners.base_action import Action


class Counter(Action):
    def run(self, name="visits", reset=False):
        key = "examples.counter.%s" % name
        current = 0 if reset else int(self.action_service.get_value(key, local=False) or 0)
        current += int(self.config.get("step", 1))
        self.action_service.set_value(key, str(current), local=False)
        return {"counter": name, "value": current}
