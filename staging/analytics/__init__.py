"""Pure analytics over replay results: pandas, numpy and scipy only, no network and no UI.

They compute on tables they are handed; the one exception that touches files is
`drift_samples.reference_profile`, which reads a training reference a column at a time
(and caches its profile per file) so that a large reference is never held whole.
"""
