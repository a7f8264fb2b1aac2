"""Tools beside the library: the ``mapisync`` command, its demo provider, the pytest plugin."""
