from st2common.runners.base_action import Action

from greetings import greet


class HelloAction(Action):
    def run(self, name, punctuation="!"):
        print("printing to stdout")
        self.logger.info("logging for %s", name)
        return {"greeting": greet(name) + punctuation, "config_x": self.config.get("x")}
