"""The MLflow side: the registry, who may write to it, and what a model version's files hold.

- `client`: `Registry`, the registry behind a few calls (aliases, signatures, tags, anchors);
- `team`: team mode's `Credentials` and the writes made as the reviewer;
- `model_files`: a version's files, downloaded once into the home;
- `scan`: those files scanned for pickles that run code before anything loads them;
- `demo`, `scenarios`, `model_code`: the demo's models, their stories and data.
"""
