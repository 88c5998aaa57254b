import os
import sys

from st2common.runners.base_action import Action


class Secrets(Action):
    def run(self, token):
        print("token is %s" % token)
        print("api token is %s" % os.environ.get("ST2_ACTION_AUTH_TOKEN"))
        sys.stderr.write("config password is %s\n" % self.config.get("password"))
        return {"token": token}
