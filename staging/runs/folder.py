"""The file names of one run folder, in one place.

    runs/<run_id>/manifest.json            the typed `RunManifest`
                  requests.parquet         the requests replayed, as validated
                  quarantine.parquet       the rows kept aside, with their reasons
                  results.jsonl            the journal, flushed per answer
                  results.parquet          the journal compacted when the run ends
                  labels.parquet           the labels joined to the run's requests (its own copy)
                  reference_scores.parquet each model's answers on the training reference
                  evidence.pkl             the computed evidence (a cache)
                  reference_scores_error.txt  why the models could not score the reference
                  replay.log               the worker's output
                  resources.json           each model server's CPU and memory over the replay
                  explanation/             why the models differ (`staging.explain`): explanation.json,
                                           attributions.parquet, background.parquet,
                                           progress.json, explain.log
                  report.html/.json, decisions/  the offline report and each decision's
"""

from __future__ import annotations

MANIFEST = "manifest.json"
JOURNAL = "results.jsonl"
RESULTS = "results.parquet"
REQUESTS = "requests.parquet"
QUARANTINE = "quarantine.parquet"
LABELS = "labels.parquet"
REFERENCE_SCORES = "reference_scores.parquet"
REFERENCE_SCORES_ERROR = "reference_scores_error.txt"  # why scoring the reference failed, in words
EVIDENCE = "evidence.pkl"
EVIDENCE_SUMMARY = "evidence-summary.json"  # a few counts for run lists, readable without unpickling
REPLAY_LOG = "replay.log"
RESOURCES = "resources.json"
DECISIONS = "decisions"

EXPLANATION = "explanation"
EXPLANATION_META = "explanation.json"
EXPLANATION_ATTRIBUTIONS = "attributions.parquet"
EXPLANATION_PROGRESS = "progress.json"
EXPLANATION_LOG = "explain.log"
EXPLANATION_BACKGROUND = "background.parquet"  # the background rows, as text, for the record
