"""Factories for the embedding tests (imported by Python embedded in C test hosts)."""

from mapisync_ctypes import MAPI_E_NETWORK_ERROR, COMError
from mapisync_ctypes.sample import SampleProvider


def fast():
    return SampleProvider(step_seconds=0.01)


def raising():
    raise ValueError("no mailbox configured")


def failing():
    raise COMError(MAPI_E_NETWORK_ERROR, "server unreachable")


def not_com():
    return object()
