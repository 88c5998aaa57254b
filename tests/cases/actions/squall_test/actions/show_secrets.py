import os
import sys

from st2common.runners.base_action import Action


class Secrets(Action):
    def run(self, token):
        print("token is %s" % token)
        print("api key is %s" % os.environ.get("ST2_API_KEY"))
        sys.stderr.write("config password is %s\n" % self.config.get("password"))
        return {"token": token}
