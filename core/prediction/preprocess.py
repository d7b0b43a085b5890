"""The booster's preprocessing: numbers as they are, categories coded, text as a few n-gram components."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils.validation import check_is_fitted


class TextComponents(TransformerMixin, BaseEstimator):
    """Hashed word and character n-grams of one text column, reduced to a few components.

    Each distinct text is transformed once (campaign data repeats one text over
    thousands of rows), so transforming a million rows costs a factorize.
    """

    def __init__(self, n_components: int = 8, n_features: int = 2**14, random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_features = n_features
        self.random_state = random_state

    def _vectorizers(self) -> tuple[HashingVectorizer, HashingVectorizer]:
        word = HashingVectorizer(n_features=self.n_features, ngram_range=(1, 2), alternate_sign=False,
                                 norm=None)
        char = HashingVectorizer(n_features=self.n_features, analyzer="char_wb", ngram_range=(3, 5),
                                 alternate_sign=False, norm=None)
        return word, char

    def _counts(self, texts: list[str]):
        word, char = self._vectorizers()
        return sparse.hstack([word.transform(texts), char.transform(texts)]).tocsr()

    @staticmethod
    def _texts(X) -> np.ndarray:
        col = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X).ravel())
        return col.astype(object).where(col.notna(), "").astype(str).to_numpy()

    def fit(self, X, y=None):
        uniques = pd.unique(self._texts(X))
        counts = self._counts(list(uniques))
        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(counts)
        k = int(max(1, min(self.n_components, len(uniques) - 1, counts.shape[1] - 1)))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state).fit(self.tfidf_.transform(counts))
        self.n_components_ = k
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "svd_")
        codes, uniques = pd.factorize(self._texts(X))
        comps = self.svd_.transform(self.tfidf_.transform(self._counts(list(uniques))))
        return comps[codes]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "n_components_")
        return np.array([f"text_{i}" for i in range(self.n_components_)], dtype=object)


def make_preprocessor(numeric: list[str], categorical: list[str], text: str | None,
                      n_text_components: int, random_state: int) -> ColumnTransformer:
    """The preprocessing step: numbers as they are, categories coded, text components."""
    steps = [("num", "passthrough", numeric),
             ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                    encoded_missing_value=np.nan), categorical)]
    if text and n_text_components > 0:
        steps.append(("text", TextComponents(n_text_components, random_state=random_state), [text]))
    return ColumnTransformer(steps, verbose_feature_names_out=False, sparse_threshold=0.0)
