"""Free text: told from categories, and its drift judged through descriptors, with an A/A rate
(training text against more text from the same source) at or below 5%."""

import numpy as np
import pandas as pd

from staging.analytics.drift import feature_drift
from staging.analytics.drift_samples import ReferenceProfile
from staging.analytics.text import TextVocabulary, descriptor_columns, looks_like_text

WORDS = ("the parcel arrived late and the driver was rude but the food was warm tasty fresh cold soggy great "
         "awful quick slow friendly box order refund kitchen menu price value portion spicy sweet salty").split()


def reviews(rng, n, words=WORDS, length=(5, 30)):
    return pd.Series([" ".join(rng.choice(words, int(rng.integers(*length)))) for _ in range(n)])


def test_text_is_told_from_categories():
    rng = np.random.default_rng(0)
    assert looks_like_text(reviews(rng, 200))
    assert not looks_like_text(pd.Series(rng.choice(["red", "green", "blue"], 200)))
    assert not looks_like_text(pd.Series(rng.normal(size=200)))
    assert not looks_like_text(pd.Series([f"customer-{i}" for i in range(200)]))  # ids: short, one word


def drifted(reference, current):
    vocabulary, held_out = TextVocabulary.learn(reference.to_frame("review"), ("review",))
    described = vocabulary.describe(held_out)
    profile = ReferenceProfile.of(described, tuple(described.columns), ())
    table = feature_drift(profile, vocabulary.describe(current.to_frame("review")), descriptor_columns(("review",)), ())
    return bool(table["drifted"].any())


def test_text_drift_a_a_rate_is_at_most_five_percent():
    """Training text against new text from the same source, 200 times, at two sizes."""
    rng = np.random.default_rng(1)
    alarms = 0
    runs = 0
    for size in (300, 3000):
        for _ in range(100):
            alarms += drifted(reviews(rng, 2000), reviews(rng, size))
            runs += 1
    assert alarms / runs <= 0.05, alarms


def test_text_drift_catches_longer_text_and_new_words():
    rng = np.random.default_rng(2)
    reference = reviews(rng, 2000)
    assert drifted(reference, reviews(rng, 500, length=(30, 60)))
    new_words = [f"word{i}" for i in range(300)]
    assert drifted(reference, reviews(rng, 500, words=WORDS + new_words))
