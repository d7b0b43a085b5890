"""Sample generator: deterministic bytes, believable shapes, copy within channel limits."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.config import SAMPLE_DIR
from core.copy_features import CHANNEL_LIMITS, extract_copy_features
from core.errors import ValidationError
from core.ingest.sample import file_hashes
from core.sample.generate import generate

SMALL = 0.04  # 200 users: a second or two


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    counts_a = generate(a, scale=SMALL, seed=7)
    counts_b = generate(b, scale=SMALL, seed=7)
    generate(c, scale=SMALL, seed=8)
    assert counts_a == counts_b
    assert file_hashes(a) == file_hashes(b)
    assert file_hashes(a)["events.csv.gz"] != file_hashes(c)["events.csv.gz"]
    assert counts_a["users"] == 200


@pytest.mark.slow  # ~10-20 s: regenerates the full committed sample
def test_regenerating_scale_one_reproduces_committed_files(tmp_path):
    generate(tmp_path, scale=1.0)
    assert file_hashes(tmp_path) == file_hashes(SAMPLE_DIR)


def test_bad_scale_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="scale"):
        generate(tmp_path, scale=0)


def test_committed_counts_are_in_expected_ranges():
    truth = json.loads((SAMPLE_DIR / "ground_truth.json").read_text())
    counts = truth["counts"]
    assert counts["users"] == 5000
    assert 280 <= counts["products"] <= 300
    assert 250_000 <= counts["events"] <= 350_000
    assert counts["campaigns"] == 40
    assert 120 <= counts["variants"] <= 240
    assert 120_000 <= counts["exposures"] <= 180_000


def test_variant_copy_respects_limits_and_is_varied():
    variants = pd.read_csv(SAMPLE_DIR / "variants.csv")
    lengths = variants["copy_text"].str.len()
    limits = variants["channel"].map(CHANNEL_LIMITS)
    assert (lengths <= limits).all()
    assert variants["copy_text"].is_unique
    # One control per campaign, 3-6 variants each.
    per_campaign = variants.groupby("campaign_id").agg(n=("variant_id", "size"), controls=("is_control", "sum"))
    assert per_campaign["n"].between(3, 6).all()
    assert (per_campaign["controls"] == 1).all()
    assert set(variants["channel"]) == set(CHANNEL_LIMITS)
    # Not one template with the numbers changed: many distinct opening words.
    openings = variants["copy_text"].str.replace(r"^Larkmoor: ", "", regex=True).str.split().str[0]
    assert openings.nunique() >= 25
    feats = pd.DataFrame(
        [extract_copy_features(t, ch) for t, ch in zip(variants["copy_text"], variants["channel"])]
    )
    for flag in ("urgency", "personalization", "cta", "emoji", "question", "free_shipping"):
        share = feats[flag].mean()
        assert 0.05 < share < 0.95, flag
    assert set(feats.loc[feats["discount_pct"] > 0, "discount_pct"]) >= {10.0, 20.0, 30.0}
    assert (feats["length_ratio"] > 0.9).sum() >= 10  # enough long copy to learn the length penalty


def test_discount_offers_match_the_copy():
    variants = pd.read_csv(SAMPLE_DIR / "variants.csv")
    pct = variants[variants["offer_type"] == "percent"]
    found = [extract_copy_features(t, ch)["discount_pct"] for t, ch in zip(pct["copy_text"], pct["channel"])]
    assert found == pct["offer_value"].tolist()


def test_plain_csv_option_loads_the_same_rows(tmp_path):
    from core.ingest.sample import load_sample
    from core.store import Store

    packed = generate(tmp_path / "gz", scale=SMALL, seed=3)
    plain = generate(tmp_path / "plain", scale=SMALL, seed=3, compress=False)
    assert packed == plain
    assert (tmp_path / "plain" / "events.csv").exists()
    with Store(":memory:") as s:
        assert load_sample(s, tmp_path / "plain") == plain
