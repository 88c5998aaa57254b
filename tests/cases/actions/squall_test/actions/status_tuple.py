from st2common.runners.base_action import Action


class StatusTuple(Action):
    def run(self, ok):
        if ok:
            return (True, {"fine": True})
        return (False, "it did not work")
