"""The true response model behind the sample data: how customers react to copy.

The sample generator draws every exposure's outcome from this model, and writes
its coefficients to ``sample_data/ground_truth.json`` and the customers' hidden
traits to ``sample_data/user_traits.csv``. Because the truth is known, later
code can be checked against it: does the predictor rank copy the way the true
model does, does a strategy pick the variant that truly converts best?

The conversion probability of user *u* receiving copy *c* for a product in
category *k* over channel *ch* is ``sigmoid(sum of terms)``; the terms are
listed in ``term_values`` and described in ``sample_data/README.md``. Copy
features come from ``core.copy_features.extract_copy_features`` so that any
new text, not only the past variants, has a true conversion rate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import SAMPLE_DIR
from core.copy_features import CATEGORIES, FEATURE_NAMES, extract_copy_features
from core.errors import NotFoundError, ValidationError
from core.sample.history import HISTORY_COLUMNS

# The coefficients the sample data was generated with (logit scale).
TRUE_COEFFICIENTS: dict[str, float] = {
    "intercept": -3.75,
    "recency_months": -0.12,  # per 30 days since the last purchase (capped at 180)
    "log_frequency": 0.35,  # per log(1 + purchases in 180 days)
    "log_spend": 0.08,  # per log(1 + spend in 180 days / 100)
    "category_affinity": 0.25,  # per unit of (8 x affinity share for the product's category - 1)
    "price_sensitivity": -0.2,  # per unit of (price_sensitivity - 0.5)
    "discount_10pct": 0.15,  # per 10 percentage points of discount
    "discount_x_price_sensitivity": 0.8,  # per 10 points x (price_sensitivity - 0.5)
    "discount_x_gold": -0.12,  # per 10 points, gold-tier customers
    "amount_off_10": 0.08,  # per $10 off
    "amount_off_x_price_sensitivity": 0.5,  # per $10 x (price_sensitivity - 0.5)
    "free_shipping": 0.2,
    "gift": 0.1,
    "urgency": 0.08,
    "urgency_x_lapsed": 0.4,  # lapsed = no purchase for more than 60 days
    "personalization": 0.15,
    "cta": 0.12,
    "question": 0.05,
    "exclamation": -0.05,
    "length_over_90pct": -0.6,  # per 10% of the channel limit above 90% of it
    "emoji_x_young": 0.2,  # age bands 18-24 and 25-34
    "emoji_x_55plus": -0.3,
    "category_match": 0.3,  # the copy names the user's favourite category
}
TRUE_CHANNEL_INTERCEPTS: dict[str, float] = {"email_subject": 0.0, "push": -0.25, "sms": 0.2, "banner": -0.6}
# Opens (email only) and clicks are drawn so that converted => clicked => opened.
TRUE_OPEN_MODEL: dict[str, float] = {
    "intercept": -1.2,
    "log_frequency": 0.25,
    "recency_months": -0.08,
    "personalization": 0.25,
    "question": 0.15,
    "urgency": 0.1,
    "length_over_90pct": -0.8,
}
TRUE_CLICK_MODEL: dict[str, float] = {"conversion_multiplier": 2.6, "floor": 0.01, "cap": 0.9}

LAPSED_DAYS = 60
RECENCY_CAP_DAYS = 180
YOUNG_BANDS = ("18-24", "25-34")


def category_slug(category: str) -> str:
    """``"Home & Kitchen"`` -> ``"home_kitchen"``: column-name friendly."""
    return "_".join("".join(ch if ch.isalnum() else " " for ch in category.lower()).split())


AFFINITY_COLUMNS: tuple[str, ...] = tuple(f"affinity_{category_slug(c)}" for c in CATEGORIES)
TRAIT_COLUMNS: tuple[str, ...] = (
    "user_id",
    "recency_days",
    "frequency_180d",
    "monetary_180d",
    "price_sensitivity",
    "favourite_category",
    "loyalty_tier",
    "age_band",
    *AFFINITY_COLUMNS,
)
COPY_COLUMNS: tuple[str, ...] = (*FEATURE_NAMES, "channel", "product_category", "copy_categories")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def copy_frame(
    texts: Sequence[str], channels: Sequence[str] | str, product_categories: Sequence[str | None] | str | None
) -> pd.DataFrame:
    """Copy features in the shape ``ResponseModel.probability`` reads.

    One row per text: the ``FEATURE_NAMES`` columns, ``channel``,
    ``product_category`` (the category of the promoted product, or None for a
    shop-wide message) and ``copy_categories`` (categories the text names,
    joined with ``|``).
    """
    texts = list(texts)
    n = len(texts)
    channels = [channels] * n if isinstance(channels, str) else list(channels)
    if product_categories is None or isinstance(product_categories, str):
        product_categories = [product_categories] * n
    else:
        product_categories = list(product_categories)
    if not (len(channels) == len(product_categories) == n):
        raise ValidationError("texts, channels and product categories must have the same length")
    rows = []
    for text, channel, category in zip(texts, channels, product_categories):
        feats = extract_copy_features(text, channel)
        if category is not None and category not in CATEGORIES:
            raise ValidationError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
        row: dict[str, float | str | None] = {name: float(feats[name]) for name in FEATURE_NAMES}
        row.update(channel=channel, product_category=category, copy_categories="|".join(feats["categories"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COPY_COLUMNS))


@dataclass(frozen=True)
class ResponseModel:
    """The true model; ``traits`` holds the sample customers' hidden traits when loaded."""

    coefficients: dict[str, float] = field(default_factory=lambda: dict(TRUE_COEFFICIENTS))
    channel_intercepts: dict[str, float] = field(default_factory=lambda: dict(TRUE_CHANNEL_INTERCEPTS))
    open_model: dict[str, float] = field(default_factory=lambda: dict(TRUE_OPEN_MODEL))
    click_model: dict[str, float] = field(default_factory=lambda: dict(TRUE_CLICK_MODEL))
    traits: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    # -- loading -------------------------------------------------------------
    @classmethod
    def load(cls, directory: str | Path = SAMPLE_DIR) -> ResponseModel:
        """Read ``ground_truth.json`` and ``user_traits.csv`` from a sample data folder."""
        directory = Path(directory)
        truth_path = directory / "ground_truth.json"
        if not truth_path.exists():
            raise NotFoundError(
                f"{truth_path} is missing; run `python -m core.sample` to generate the sample data."
            )
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        model = truth["response_model"]
        traits = read_traits(directory / "user_traits.csv")
        return cls(
            coefficients=dict(model["coefficients"]),
            channel_intercepts=dict(model["channel_intercepts"]),
            open_model=dict(model["open_model"]),
            click_model=dict(model["click_model"]),
            traits=traits,
        )

    def to_dict(self) -> dict:
        return {
            "coefficients": dict(self.coefficients),
            "channel_intercepts": dict(self.channel_intercepts),
            "open_model": dict(self.open_model),
            "click_model": dict(self.click_model),
        }

    # -- the model -----------------------------------------------------------
    def term_values(self, traits: pd.DataFrame, copy: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each term's contribution to the logit, row by row.

        ``traits`` has ``TRAIT_COLUMNS``; ``copy`` has ``COPY_COLUMNS`` and
        either one row (applied to every user) or one row per user.
        """
        return self._terms(_trait_arrays(traits), _copy_arrays(copy, len(traits)))

    def _terms(self, t: dict[str, np.ndarray], c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(t["price_sensitivity"])
        k = self.coefficients
        ps = t["price_sensitivity"] - 0.5
        d10 = c["discount_pct"] / 10.0
        a10 = c["amount_off"] / 10.0
        lapsed = (t["recency_days"] > LAPSED_DAYS).astype(float)
        over = np.clip(c["length_ratio"] - 0.9, 0.0, None) * 10.0
        return {
            "intercept": np.full(n, k["intercept"]),
            "channel": c["channel_intercept_index"].choose(
                [self.channel_intercepts[ch] for ch in _CHANNEL_ORDER]
            ).astype(float),
            "recency_months": k["recency_months"] * np.minimum(t["recency_days"], RECENCY_CAP_DAYS) / 30.0,
            "log_frequency": k["log_frequency"] * np.log1p(t["frequency_180d"]),
            "log_spend": k["log_spend"] * np.log1p(t["monetary_180d"] / 100.0),
            "category_affinity": k["category_affinity"] * np.where(
                c["product_category_index"] >= 0,
                8.0 * _pick(t["affinity"], c["product_category_index"]) - 1.0,
                0.0,
            ),
            "price_sensitivity": k["price_sensitivity"] * ps,
            "discount_10pct": k["discount_10pct"] * d10,
            "discount_x_price_sensitivity": k["discount_x_price_sensitivity"] * d10 * ps,
            "discount_x_gold": k["discount_x_gold"] * d10 * t["gold"],
            "amount_off_10": k["amount_off_10"] * a10,
            "amount_off_x_price_sensitivity": k["amount_off_x_price_sensitivity"] * a10 * ps,
            "free_shipping": k["free_shipping"] * c["free_shipping"],
            "gift": k["gift"] * c["gift"],
            "urgency": k["urgency"] * c["urgency"],
            "urgency_x_lapsed": k["urgency_x_lapsed"] * c["urgency"] * lapsed,
            "personalization": k["personalization"] * c["personalization"],
            "cta": k["cta"] * c["cta"],
            "question": k["question"] * c["question"],
            "exclamation": k["exclamation"] * c["exclamation"],
            "length_over_90pct": k["length_over_90pct"] * over,
            "emoji_x_young": k["emoji_x_young"] * c["emoji"] * t["young"],
            "emoji_x_55plus": k["emoji_x_55plus"] * c["emoji"] * t["older"],
            "category_match": k["category_match"] * _pick(c["mentions"], t["favourite_index"]),
        }

    def logit(self, traits: pd.DataFrame, copy: pd.DataFrame) -> np.ndarray:
        return self._logit(_trait_arrays(traits), _copy_arrays(copy, len(traits)))

    def _logit(self, t: dict[str, np.ndarray], c: dict[str, np.ndarray]) -> np.ndarray:
        n = len(t["price_sensitivity"])
        total = np.zeros(n)
        for values in self._terms(t, c).values():
            total = total + values  # single-copy terms broadcast over users
        return total

    def mean_probability(self, traits: pd.DataFrame, copies: pd.DataFrame) -> np.ndarray:
        """For each copy row, the mean true probability over all rows of ``traits``."""
        t = _trait_arrays(traits)
        c_all = _copy_arrays(copies, len(copies))
        out = np.empty(len(copies))
        for i in range(len(copies)):
            c = {key: value[i : i + 1] for key, value in c_all.items()}
            out[i] = _sigmoid(self._logit(t, c)).mean()
        return out

    def probability(self, traits: pd.DataFrame, copy: pd.DataFrame) -> np.ndarray:
        """True conversion probability per row (vectorised)."""
        return _sigmoid(self.logit(traits, copy))

    def open_probability(self, traits: pd.DataFrame, copy: pd.DataFrame) -> np.ndarray:
        """Probability that an email subject line gets opened (used for email only)."""
        t = _trait_arrays(traits)
        c = _copy_arrays(copy, len(traits))
        m = self.open_model
        over = np.clip(c["length_ratio"] - 0.9, 0.0, None) * 10.0
        z = (
            m["intercept"]
            + m["log_frequency"] * np.log1p(t["frequency_180d"])
            + m["recency_months"] * np.minimum(t["recency_days"], RECENCY_CAP_DAYS) / 30.0
            + m["personalization"] * c["personalization"]
            + m["question"] * c["question"]
            + m["urgency"] * c["urgency"]
            + m["length_over_90pct"] * over
        )
        return _sigmoid(z)

    def click_probability(self, p_convert: np.ndarray) -> np.ndarray:
        m = self.click_model
        return np.clip(p_convert * m["conversion_multiplier"] + m["floor"], p_convert, np.maximum(m["cap"], p_convert))

    # -- oracle --------------------------------------------------------------
    def users(self, user_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Hidden traits of the given sample users (all when None)."""
        if self.traits is None:
            raise NotFoundError("this response model was built without user traits; use ResponseModel.load()")
        if user_ids is None:
            return self.traits
        ids = pd.Index(list(user_ids))
        indexed = self.traits.set_index("user_id", drop=False)
        missing = ids.difference(indexed.index)
        if len(missing):
            raise NotFoundError(
                f"{len(missing)} user ids are not sample users (e.g. {missing[0]!r}); the true model only "
                "knows the users in sample_data/user_traits.csv"
            )
        return indexed.loc[ids].reset_index(drop=True)

    def users_at_send(self, user_ids: Iterable[str], history: pd.DataFrame) -> pd.DataFrame:
        """Hidden traits of the given users with their purchase history as of each send.

        ``history`` comes from ``purchase_history_at``, one row per user id given; the
        traits file holds history at the end of the sample window, which is right for a
        send made now but not for a past exposure.
        """
        frame = self.users(user_ids)
        if len(history) != len(frame):
            raise ValidationError(f"{len(history)} history rows for {len(frame)} users")
        for col in HISTORY_COLUMNS:
            frame[col] = history[col].to_numpy(float)
        return frame

    def true_rate(
        self, text: str, channel: str, category: str | None, user_ids: Iterable[str] | None = None
    ) -> float:
        """True expected conversion rate of ``text`` sent over ``channel`` to these users."""
        users = self.users(user_ids)
        if users.empty:
            raise ValidationError("no users given: the true rate of an empty audience is undefined")
        return float(self.mean_probability(users, copy_frame([text], channel, category))[0])


def true_rate(
    text: str,
    channel: str,
    category: str | None,
    user_ids: Iterable[str] | None = None,
    directory: str | Path = SAMPLE_DIR,
) -> float:
    """Convenience wrapper: load the sample's true model and score one text.

    Loading reads ``user_traits.csv``; callers scoring many texts should call
    ``ResponseModel.load()`` once and use its ``true_rate`` method.
    """
    return ResponseModel.load(directory).true_rate(text, channel, category, user_ids)


# -- helpers -------------------------------------------------------------------
_CHANNEL_ORDER = tuple(TRUE_CHANNEL_INTERCEPTS)
_CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}


def _pick(matrix: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``matrix[i, index[i]]`` per row (either side may have one row); 0 where index is -1."""
    n = max(len(matrix), len(index))
    index = np.broadcast_to(index, (n,))
    safe = np.where(index >= 0, index, 0)
    if len(matrix) == 1:
        values = matrix[0][safe]
    else:
        values = np.take_along_axis(matrix, safe[:, None], axis=1)[:, 0]
    return np.where(index >= 0, values, 0.0)


def _trait_arrays(traits: pd.DataFrame) -> dict[str, np.ndarray]:
    missing = [c for c in TRAIT_COLUMNS if c not in traits.columns and c != "user_id"]
    if missing:
        raise ValidationError(f"user traits lack columns: {', '.join(missing)}")
    fav = traits["favourite_category"].map(_CAT_INDEX)
    tier = traits["loyalty_tier"].astype(str).to_numpy()
    band = traits["age_band"].astype(str).to_numpy()
    return {
        "recency_days": traits["recency_days"].to_numpy(float),
        "frequency_180d": traits["frequency_180d"].to_numpy(float),
        "monetary_180d": traits["monetary_180d"].to_numpy(float),
        "price_sensitivity": traits["price_sensitivity"].to_numpy(float),
        "affinity": traits[list(AFFINITY_COLUMNS)].to_numpy(float),
        "favourite_index": fav.fillna(-1).to_numpy(int),
        "gold": (tier == "gold").astype(float),
        "young": np.isin(band, YOUNG_BANDS).astype(float),
        "older": (band == "55+").astype(float),
    }


def _copy_arrays(copy: pd.DataFrame, n: int) -> dict[str, np.ndarray]:
    missing = [c for c in COPY_COLUMNS if c not in copy.columns]
    if missing:
        raise ValidationError(f"copy features lack columns: {', '.join(missing)}; build them with copy_frame()")
    if len(copy) not in (1, n):
        raise ValidationError(f"copy features have {len(copy)} rows; expected 1 or {n}")
    # A single copy row stays one row: its arrays broadcast over the users.
    out = {name: copy[name].to_numpy(float) for name in FEATURE_NAMES}
    channels = copy["channel"].astype(str)
    unknown = sorted(set(channels) - set(_CHANNEL_ORDER))
    if unknown:
        raise ValidationError(f"unknown channel {unknown[0]!r}")
    out["channel_intercept_index"] = channels.map({ch: i for i, ch in enumerate(_CHANNEL_ORDER)}).to_numpy(int)
    out["product_category_index"] = copy["product_category"].map(_CAT_INDEX).fillna(-1).to_numpy(int)
    mentions = np.zeros((len(copy), len(CATEGORIES)))
    # Few distinct strings (one per variant): map them once, then broadcast.
    codes, uniques = pd.factorize(copy["copy_categories"].fillna("").astype(str))
    table = np.zeros((len(uniques), len(CATEGORIES)))
    for i, joined in enumerate(uniques):
        for name in filter(None, joined.split("|")):
            table[i, _CAT_INDEX[name]] = 1.0
    if len(uniques):
        mentions = table[codes]
    out["mentions"] = mentions
    return out


def read_traits(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"{path} is missing; run `python -m core.sample` to generate the sample data.")
    dtypes = {col: "float64" for col in (*AFFINITY_COLUMNS, "recency_days", "frequency_180d",
                                           "monetary_180d", "price_sensitivity")}
    dtypes.update(user_id="string", favourite_category="string", loyalty_tier="string", age_band="string")
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False)
