from st2common.runners.base_action import Action


class DeclaredAction(Action):
    # StackStorm passes every declared parameter: `missing` and `defaulted` arrive as None.
    def run(self, given, missing, defaulted="run()'s own default"):
        return {
            "given": given,
            "missing": missing,
            "defaulted": defaulted,
            "datastore_service": self.action_service.datastore_service is not None
            and callable(self.action_service.datastore_service.get_value),
        }
