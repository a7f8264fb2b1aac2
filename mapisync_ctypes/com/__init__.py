"""The generic COM layer: types, HRESULTs, declarations, COM objects, proxies, backends.

It knows no MAPI word: the MAPI sync protocol (``mapisync_ctypes.sync``) is built on it.
"""
