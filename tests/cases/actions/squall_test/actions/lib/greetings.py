"""Shared code under actions/lib: importable by the pack's python actions, as in StackStorm."""


def greet(name):
    return "Hello, %s" % name
