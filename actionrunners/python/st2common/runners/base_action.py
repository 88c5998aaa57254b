"""st2common.runners.base_action.Action for Squall's python-script runner (StackStorm-compatible)."""

import abc
import sys

__all__ = ["Action", "configure_logging"]

_LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(module)s [-] %(message)s"
_LOG_LEVEL_NAME = "DEBUG"


def configure_logging(level_name):
    """Sets the level of action loggers (the runner's `log_level` parameter; AUDIT counts as DEBUG)."""
    global _LOG_LEVEL_NAME
    _LOG_LEVEL_NAME = str(level_name or "DEBUG").upper()


def _get_logger(name):
    import logging  # lazily: most of a hello-world action's start-up time otherwise

    level = logging.DEBUG if _LOG_LEVEL_NAME == "AUDIT" else getattr(logging, _LOG_LEVEL_NAME, logging.DEBUG)
    logger = logging.getLogger("actions.python.%s" % name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger


class Action(object):
    """Base class of python-script actions: implement run(self, **parameters).

    `self.config` is the pack config, `self.logger` logs to stderr, `self.action_service` reaches the
    datastore (get_value / set_value / delete_value / list_values / get_user_info).
    """

    __metaclass__ = abc.ABCMeta
    description = None

    def __init__(self, config=None, action_service=None):
        self.config = config or {}
        self.action_service = action_service
        self._logger = None

    @property
    def logger(self):
        # Created on first use (importing logging costs start-up time); assignable as in StackStorm.
        if getattr(self, "_logger", None) is None:
            self._logger = _get_logger(self.__class__.__name__)
        return self._logger

    @logger.setter
    def logger(self, value):
        self._logger = value

    @abc.abstractmethod
    def run(self, **kwargs):
        raise NotImplementedError()
