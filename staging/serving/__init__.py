"""Talking to a model server: where traffic may go, how to ask, and how to read the answer.

- `destinations`: the endpoint allow-list (which URLs production traffic may go to) and where
  it goes, in words;
- `endpoint`: `Endpoint`, the seam to one live server (`wait_ready`, `invoke`, `metadata`), in
  MLflow's protocol or V2's, as its URL says;
- `protocols`: V2 request bodies, outputs and metadata checks;
- `predictions`: answers parsed into labels and scores;
- `signatures`: a model's inputs and outputs as plain values, and whether two models' match.
"""
