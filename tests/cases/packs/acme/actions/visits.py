from st2common.runners.base_action import Action


class VisitsAction(Action):
    """Reads and writes a global datastore key; greets with self.config."""

    def run(self, name):
        key = "acme.visits.%s" % name
        previous = self.action_service.get_value(key, local=False)
        visits = int(previous or 0) + 1
        self.action_service.set_value(key, str(visits), local=False)
        self.logger.info("%s has visited %d times", name, visits)
        if visits > 100:
            return (False, {"error": "too many visits"})
        return {
            "message": "%s, %s!" % (self.config["greeting"], name),
            "visits": visits,
            "has_token": bool(self.config.get("api_token")),
        }
