from st2common.runners.base_action import Action


class KvAction(Action):
    def run(self):
        svc = self.action_service
        svc.set_value("counter", "1")
        svc.set_value("global_key", "g", local=False, ttl=30)
        svc.set_value("token", "t0k", encrypt=True)
        local_value = svc.get_value("counter")
        global_value = svc.get_value("global_key", local=False)
        decrypted = svc.get_value("token", decrypt=True)
        missing = svc.get_value("nope")
        names = sorted(kvp.name for kvp in svc.list_values())
        deleted = svc.delete_value("counter")
        deleted_again = svc.delete_value("counter")
        return {
            "local": local_value,
            "global": global_value,
            "decrypted": decrypted,
            "missing": missing,
            "names": names,
            "deleted": deleted,
            "deleted_again": deleted_again,
        }
