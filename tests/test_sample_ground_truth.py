"""The ground truth: outcomes agree with the response model, and the model behaves as documented."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.config import SAMPLE_DIR
from core.errors import NotFoundError, ValidationError
from core.sample.history import purchase_history_at
from core.sample.truth import TRUE_COEFFICIENTS, ResponseModel, copy_frame, true_rate


@pytest.fixture(scope="module")
def truth() -> ResponseModel:
    return ResponseModel.load()


def test_json_holds_the_coefficients(truth):
    data = json.loads((SAMPLE_DIR / "ground_truth.json").read_text())
    assert data["response_model"]["coefficients"] == TRUE_COEFFICIENTS
    assert truth.coefficients == TRUE_COEFFICIENTS
    assert len(truth.traits) == data["counts"]["users"]


def _history_at_send(exposures: pd.DataFrame) -> pd.DataFrame:
    """Organic purchase history of each exposure's user as of its send, from the committed files."""
    events = pd.read_csv(SAMPLE_DIR / "events.csv.gz",
                         usecols=["user_id", "event_type", "ts", "price", "quantity", "campaign_id"])
    buys = events[(events["event_type"] == "purchase") & events["campaign_id"].isna()]
    seconds = pd.to_datetime(pd.concat([buys["ts"], exposures["sent_at"]], ignore_index=True))
    seconds = (seconds - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return purchase_history_at(buys["user_id"].to_numpy(), seconds[:len(buys)].to_numpy(),
                               (buys["price"] * buys["quantity"]).to_numpy(),
                               exposures["user_id"].to_numpy(), seconds[len(buys):].to_numpy())


def test_purchase_history_counts_only_what_happened_before_the_send():
    day = 86_400
    history = purchase_history_at(
        buyer=np.array([0, 0, 1]), bought_at=np.array([100, 200 + 3 * day, 50]), spend=np.array([10.0, 5.0, 7.0]),
        who=np.array([0, 0, 0, 1, 2]), when=np.array([100, 101, 200 + 10 * day, 49, 1000]))
    # Strictly before: a purchase at the send's own second does not count.
    assert history["frequency_180d"].tolist() == [0, 1, 2, 0, 0]
    assert history["monetary_180d"].tolist() == [0, 10, 15, 0, 0]
    assert history["recency_days"].tolist() == [365, 0, 7, 365, 365]


def test_empirical_rates_within_two_standard_errors(truth):
    exposures = pd.read_csv(SAMPLE_DIR / "exposures.csv.gz", usecols=["user_id", "variant_id", "sent_at", "converted"])
    variants = pd.read_csv(SAMPLE_DIR / "variants.csv")
    feats = copy_frame(variants["copy_text"], variants["channel"], variants["category"])
    feats.index = variants["variant_id"]
    # Outcomes were drawn with each user's history as of the send, not as of the window's end.
    traits = truth.users_at_send(exposures["user_id"], _history_at_send(exposures))
    p = truth.probability(traits, feats.loc[exposures["variant_id"]].reset_index(drop=True))
    frame = exposures.assign(p=p, v=p * (1 - p))
    g = frame.groupby("variant_id").agg(n=("p", "size"), observed=("converted", "mean"),
                                        implied=("p", "mean"), var=("v", "sum"))
    z = (g["observed"] - g["implied"]) / (np.sqrt(g["var"]) / g["n"])
    within = (z.abs() <= 2).mean()
    assert within >= 0.9, g.assign(z=z).sort_values("z")
    assert abs(z.mean()) < 0.3  # no systematic bias
    assert 0.01 <= g["implied"].mean() <= 0.06


def test_discount_helps_price_sensitive_users_far_more(truth):
    traits = truth.users()
    sensitive = traits.nlargest(300, "price_sensitivity")["user_id"]
    loyal = traits[(traits["loyalty_tier"] == "gold")].nsmallest(300, "price_sensitivity")["user_id"]
    plain = "New season kitchen picks"
    offer = "30% off kitchen picks"
    lift_sensitive = truth.true_rate(offer, "push", "Home & Kitchen", sensitive) / truth.true_rate(
        plain, "push", "Home & Kitchen", sensitive)
    lift_loyal = truth.true_rate(offer, "push", "Home & Kitchen", loyal) / truth.true_rate(
        plain, "push", "Home & Kitchen", loyal)
    assert lift_sensitive > 1.5
    assert lift_loyal < 1.1


def test_urgency_works_on_lapsed_users(truth):
    traits = truth.users()
    lapsed = traits[traits["recency_days"] > 60]["user_id"]
    recent = traits[traits["recency_days"] <= 30]["user_id"]
    def lift(ids):
        return truth.true_rate("Ends tonight: new tech", "push", "Electronics", ids) / truth.true_rate(
            "Fresh picks: new tech", "push", "Electronics", ids)
    assert lift(lapsed) > lift(recent) > 1.0


def test_length_penalty_near_the_limit(truth):
    short = "Save 20% on skincare"
    padded = short + " " + "x" * (60 - len(short) - 1)  # exactly at the email limit
    ids = truth.users()["user_id"][:500]
    assert truth.true_rate(padded, "email_subject", "Beauty", ids) < truth.true_rate(short, "email_subject", "Beauty", ids)


def test_probability_matches_the_documented_formula():
    model = ResponseModel()
    traits = pd.DataFrame([{
        "user_id": "U1", "recency_days": 90.0, "frequency_180d": 3.0, "monetary_180d": 200.0,
        "price_sensitivity": 0.9, "favourite_category": "Beauty", "loyalty_tier": "gold", "age_band": "18-24",
        **{f"affinity_{k}": 0.0 for k in ("electronics", "home_kitchen", "apparel", "sports_outdoors",
                                          "toys_games", "books", "pet_supplies")},
        "affinity_beauty": 1.0,
    }])
    text = "{first_name}, 20% off skincare. Hurry! 💄"
    copy = copy_frame([text], "push", "Beauty")
    k = TRUE_COEFFICIENTS
    expected = (k["intercept"] - 0.25 + k["recency_months"] * 3 + k["log_frequency"] * np.log(4)
                + k["log_spend"] * np.log(3) + k["category_affinity"] * 7 + k["price_sensitivity"] * 0.4
                + 2 * (k["discount_10pct"] + k["discount_x_price_sensitivity"] * 0.4 + k["discount_x_gold"])
                + k["urgency"] + k["urgency_x_lapsed"] + k["personalization"] + k["exclamation"]
                + k["emoji_x_young"] + k["category_match"])
    assert model.logit(traits, copy)[0] == pytest.approx(expected)
    assert model.probability(traits, copy)[0] == pytest.approx(1 / (1 + np.exp(-expected)))


def test_true_rate_helper_and_errors(truth):
    ids = truth.users()["user_id"][:50].tolist()
    assert 0 < true_rate("Shop now", "banner", None, ids) < 0.2
    with pytest.raises(NotFoundError, match="not sample users"):
        truth.true_rate("Shop now", "banner", None, ["nobody"])
    with pytest.raises(ValidationError):
        truth.true_rate("Shop now", "banner", "Garden", ids)
    with pytest.raises(NotFoundError):
        ResponseModel.load(SAMPLE_DIR / "missing")
