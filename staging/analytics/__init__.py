"""Pure analytics over replay results: pandas, numpy and scipy only, no I/O, no UI."""
