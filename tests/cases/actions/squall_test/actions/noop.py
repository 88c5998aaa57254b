from st2common.runners.base_action import Action


class Noop(Action):
    def run(self):
        return "hello world"
