from st2common.runners.base_action import Action


class PyAction(Action):
    def run(self, message, token=None):
        return {"greeting": message}
