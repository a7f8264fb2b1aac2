"""The Python half of embedding: what include/mapisync_python.c (and the provider shim) call."""
