"""A user's organic purchase history as of a send, shared by the generator, the oracle and the ground-truth test."""

from __future__ import annotations

import numpy as np
import pandas as pd

NO_PURCHASE_RECENCY_DAYS = 365.0
HISTORY_COLUMNS = ("recency_days", "frequency_180d", "monetary_180d")


def purchase_history_at(
    buyer: np.ndarray, bought_at: np.ndarray, spend: np.ndarray, who: np.ndarray, when: np.ndarray
) -> pd.DataFrame:
    """Each query row's purchase recency, frequency and spend strictly before its time.

    The true model scores a message with the customer's history *at the send*:
    purchases after it cannot have caused (or predicted) the response. The sample
    generator, the oracle in ``core.sample.evaluate`` and the tests all call this
    one function, so they agree to the cent.

    Parameters
    ----------
    buyer, bought_at, spend
        One entry per organic purchase: the user (an id or an integer code), the
        time in epoch seconds, and price x quantity.
    who, when
        One entry per query: the user (same kind as ``buyer``) and the send time in
        epoch seconds.

    Returns
    -------
    DataFrame with ``HISTORY_COLUMNS``, one row per query; a user with no earlier
    purchase has recency ``NO_PURCHASE_RECENCY_DAYS``, frequency 0 and spend 0.
    """
    # One integer code per user, shared by purchases and queries, whatever the ids are.
    codes, _ = pd.factorize(np.concatenate([np.asarray(buyer, dtype=object), np.asarray(who, dtype=object)]))
    buyer, who = codes[:len(bought_at)].astype(np.int64), codes[len(bought_at):].astype(np.int64)
    bought_at = np.asarray(bought_at, dtype=np.int64)
    when = np.asarray(when, dtype=np.int64)
    t0 = min(bought_at.min(initial=0), when.min(initial=0))
    span = max(bought_at.max(initial=0), when.max(initial=0)) - t0 + 2
    # One sorted key per purchase (user, then time) turns "purchases of u before t" into
    # two binary searches, for every query at once.
    key = buyer * span + (bought_at - t0)
    order = np.argsort(key, kind="stable")
    key = key[order]
    times = bought_at[order]
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(spend, dtype=float)[order])])
    lo = np.searchsorted(key, who * span, side="left")
    hi = np.searchsorted(key, who * span + (when - t0), side="left")
    freq = hi - lo
    last = np.where(freq > 0, times[np.maximum(hi - 1, 0)], 0)
    recency = np.where(freq > 0, np.floor((when - last) / 86_400), NO_PURCHASE_RECENCY_DAYS)
    return pd.DataFrame({
        "recency_days": recency.astype(float),
        "frequency_180d": freq.astype(float),
        "monetary_180d": np.round(cum[hi] - cum[lo], 2),
    })
