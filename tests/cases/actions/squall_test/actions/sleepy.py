import time

from st2common.runners.base_action import Action


class Sleepy(Action):
    def run(self):
        print("going to sleep", flush=True)
        time.sleep(60)
