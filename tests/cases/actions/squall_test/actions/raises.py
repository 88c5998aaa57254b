from st2common.runners.base_action import Action


class Raises(Action):
    def run(self):
        print("before the error")
        raise ValueError("bad value for the test")
