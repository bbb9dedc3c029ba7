"""Why the models disagree: each model's feature attributions, computed through its served
endpoint, never by loading its code into the app.

- `settings`: what to explain and the limits (rows, background, time, scale), checked first;
- `sample`: which replayed requests are explained (every disagreement up to a cap, a random
  sample of the rest, each row weighted for its stratum) and the background;
- `coding`: rows as integer codes, so shap's maskers mix any column types, and back;
- `served`: a model's explained output, as masked rows sent to its endpoint in batches;
- `shapley`: shap's permutation explainer over both models, with progress, a deadline and cancel;
- `result`: the stored explanation, its global comparison and each row's reasons in words.
"""
