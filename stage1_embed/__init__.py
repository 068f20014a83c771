"""Stage one: pseudo-prompt generator and embedders, writing HDF5 embedding shards."""
