"""Free-text inputs: told apart from categories, and judged for drift as Evidently judges text,
through descriptors of each text rather than its values.

A string column is text when its values are long or many words and mostly distinct
(`looks_like_text`); as categories, every new review would be "a value the training data never
held", and the column would always drift. Each text instead becomes three numbers:

- `length`: characters;
- `words`: whitespace-separated words;
- `out-of-vocabulary share`: the share of its words (lower-cased letters and digits) that the
  training reference never used.

The vocabulary is learnt from one half of the reference rows and the reference's own descriptors
are measured on the other half, so the reference's out-of-vocabulary share is what unseen text
from the same source shows (a vocabulary measured on the rows it was learnt from would be 0, and
every replay would drift). The descriptors are then numeric features for `drift`: its tests, its
Benjamini-Hochberg family and its noise checks apply unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

DESCRIPTORS = ("length", "words", "out-of-vocabulary share")
MIN_MEAN_LENGTH = 25  # characters
MIN_MEAN_WORDS = 4
MIN_DISTINCT_SHARE = 0.5
TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def looks_like_text(values: pd.Series) -> bool:
    """Strings that are long or several words each, and mostly distinct: text, not categories."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna().astype(str)
    if len(present) < 10:
        return False
    lengths = present.str.len()
    words = present.str.split().str.len()
    distinct = present.nunique() / len(present)
    return bool(distinct >= MIN_DISTINCT_SHARE and (lengths.mean() >= MIN_MEAN_LENGTH or words.mean() >= MIN_MEAN_WORDS))


def descriptor_name(column: str, descriptor: str) -> str:
    return f"{column} · {descriptor}"


def _unseen_share(words: list[str], known: frozenset[str]) -> float:
    return sum(w not in known for w in words) / len(words) if words else 0.0


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


@dataclass(frozen=True)
class TextVocabulary:
    """Per text column, the words one half of the training reference used."""

    words: dict[str, frozenset[str]]

    @classmethod
    def learn(cls, reference: pd.DataFrame, columns: tuple[str, ...], seed: int = 0) -> tuple[TextVocabulary, pd.DataFrame]:
        """The vocabulary from a random half of the reference, and the other half (whose
        descriptors stand for the reference)."""
        order = np.random.default_rng(seed).permutation(len(reference))
        learn_rows, held_rows = order[: len(order) // 2], order[len(order) // 2:]
        vocabulary = {}
        for column in columns:
            seen: set[str] = set()
            for text in reference[column].iloc[learn_rows].dropna().astype(str):
                seen.update(_tokens(text))
            vocabulary[column] = frozenset(seen)
        return cls(vocabulary), reference.iloc[held_rows]

    def describe(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Three numeric descriptor columns per text column of `frame` (NaN where the text is missing)."""
        out = {}
        for column, known in self.words.items():
            texts = frame[column]
            present = texts.notna()
            strings = texts.fillna("").astype(str)
            tokens = strings.map(_tokens)
            out[descriptor_name(column, "length")] = strings.str.len().where(present).astype(float)
            out[descriptor_name(column, "words")] = strings.str.split().str.len().where(present).astype(float)
            unseen = tokens.map(partial(_unseen_share, known=known))
            out[descriptor_name(column, "out-of-vocabulary share")] = unseen.where(present).astype(float)
        return pd.DataFrame(out, index=frame.index)


def descriptor_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(descriptor_name(c, d) for c in columns for d in DESCRIPTORS)
