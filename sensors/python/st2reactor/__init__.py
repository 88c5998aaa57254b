"""Squall's stand-in for StackStorm's st2reactor: what StackStorm Python sensors import (st2reactor.sensor.base)."""
