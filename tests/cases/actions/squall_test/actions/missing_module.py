import squall_no_such_module  # noqa: F401  (the test expects this import to fail)

from st2common.runners.base_action import Action


class MissingModule(Action):
    def run(self):
        return None
