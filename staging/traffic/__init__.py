"""Recorded traffic: the files a user brings, read and checked before anything is sent.

    formats.py     request logs as serving platforms write them (MLflow payloads, SageMaker
                   Data Capture, KServe CloudEvents, plain records), a registry of formats,
                   and SageMaker ground truth
    validation.py  any traffic file read and checked against the model signature: bad rows
                   quarantined with their reason, mismatched columns refused
    coercion.py    a value read as the model's input type, exactly or not at all (integers never rounded)
    times.py       request times from text, timestamps of any unit or epoch numbers; durations refused
"""

from .formats import (
                      FORMAT_NAMES,
                      LOG_FORMATS,
                      LogFormat,
                      detect_log_format,
                      merge_ground_truth,
                      read_ground_truth,
                      read_request_log,
)
from .validation import (
                      NUMERIC_KINDS,
                      FeatureSpec,
                      ValidatedTraffic,
                      ValidationReport,
                      load_and_validate,
                      load_traffic,
                      out_of_range,
                      specs_from_signature,
                      validate_traffic,
)

__all__ = [
    "FORMAT_NAMES",
    "LOG_FORMATS",
    "NUMERIC_KINDS",
    "FeatureSpec",
    "LogFormat",
    "ValidatedTraffic",
    "ValidationReport",
    "detect_log_format",
    "load_and_validate",
    "load_traffic",
    "merge_ground_truth",
    "out_of_range",
    "read_ground_truth",
    "read_request_log",
    "specs_from_signature",
    "validate_traffic",
]
