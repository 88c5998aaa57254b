"""Squall's minimal stand-in for StackStorm's st2common: what python-script actions import.

Only the modules actions commonly use are provided: runners.base_action (Action), services.datastore
(action_service), constants.keyvalue, util.jsonify and util.shell.
"""

__version__ = "3.8.0"
