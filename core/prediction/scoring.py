"""Score copy variants for a segment: rate, intervals, lift, reasons, out-of-distribution flag.

The predicted rate of a variant for a segment is the mean calibrated
probability over the segment's members (a stratified sample when the segment
is large). Its interval covers model uncertainty: the spread of the same mean
under the campaign-bootstrap ensemble, plus the member-sampling error when a
sample was scored. The send-size interval adds the binomial noise of a planned
send. Small segments are shrunk toward the population's prediction for the
same variant. Reasons are the change in the segment's predicted rate when one
feature group (the discount, urgency, length, the words...) is set to a neutral
value, reported in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from core.errors import PredictionError
from core.intervals import Z90
from core.prediction.features import pair_frame, user_frame, variant_features, with_attributes, with_category_shares
from core.prediction.model import Predictor, copy_vectors, nearest_distance
from core.prediction.types import Reason, VariantPrediction
from core.store import Store

SAMPLE_SIZE = 3000  # members scored for the rate (its sampling error is part of the interval)
# The ensemble spread and the reasons compare predictions for the SAME members (paired), so a
# few hundred members measure them precisely; scoring time is dominated by rows x trees.
DETAIL_SIZE = 500  # members scored by every bootstrap model
REASON_SIZE = 300  # members scored with each feature group neutralized
SHRINK_MEMBERS = 200  # prior strength (in members) of the population prediction
THIN_MEMBERS = 200
THIN_CHANNEL_SENDS = 2000
MIN_REASON = 0.0002  # 0.02 pts: smaller effects are noise, not reasons

# Feature groups for reasons: name -> model columns. Neutral value per column is chosen in _neutral.
GROUPS: dict[str, tuple[str, ...]] = {
    "offer": ("copy_discount_pct", "copy_amount_off", "offer_value", "offer_type"),
    "free_shipping": ("copy_free_shipping",),
    "gift": ("copy_gift",),
    "urgency": ("copy_urgency",),
    "personalization": ("copy_personalization",),
    "cta": ("copy_cta",),
    "question": ("copy_question",),
    "emoji": ("copy_emoji",),
    "style": ("copy_exclamation", "copy_has_number"),
    "code": ("copy_has_promo_code", "has_offer_code"),
    "length": ("copy_length", "copy_length_ratio", "copy_word_count"),
    "category": ("category_match", "copy_names_favourite", "copy_mentions_category", "category_share"),
    "wording": (),  # the text components, filled from the model's columns
}
_ZERO_NEUTRAL = {"copy_discount_pct", "copy_amount_off", "offer_value", "copy_free_shipping", "copy_gift",
                 "copy_urgency", "copy_personalization", "copy_cta", "copy_question", "copy_emoji",
                 "copy_exclamation", "copy_has_number", "copy_has_promo_code", "has_offer_code",
                 "category_match", "copy_names_favourite", "copy_mentions_category"}


def reason_text(reason: Reason, outcome: str = "conversion") -> str:
    """``"mentions 20% off: +0.4 pts"`` (or currency per send for revenue models)."""
    if outcome == "revenue":
        return f"{reason.label}: {reason.effect:+.3f} per send"
    return f"{reason.label}: {reason.effect * 100:+.2f} pts"


def _group_columns(predictor: Predictor) -> dict[str, list[int]]:
    names = [str(n) for n in predictor.model.feature_names_out_]
    pos = {n: i for i, n in enumerate(names)}
    out = {}
    for group, cols in GROUPS.items():
        if group == "wording":
            idx = [i for i, n in enumerate(names) if n.startswith(("text_", "copy_score"))]
        else:
            idx = [pos[c] for c in cols if c in pos]
        if idx:
            out[group] = idx
    return out


def _neutral(predictor: Predictor, column: str) -> float:
    ref = predictor.reference
    if column in _ZERO_NEUTRAL:
        return 0.0
    if column == "offer_type":
        return ref["offer_codes"].get("none", np.nan)
    if column == "category_share":
        return ref["means"].get(column, 0.0)
    if column.startswith(("text_", "copy_score")):
        return ref["means"].get(column, 0.0)
    return ref["medians"].get(column, 0.0)


def _label(group: str, v: pd.Series, members: pd.DataFrame) -> str:
    if group == "offer":
        if v["copy_discount_pct"] > 0:
            return f"mentions {v['copy_discount_pct']:g}% off"
        if v["copy_amount_off"] > 0:
            return f"mentions {v['copy_amount_off']:g} off"
        if v["offer_type"] not in ("none", None) and v["offer_value"]:
            return f"{v['offer_type']} offer of {v['offer_value']:g}"
        return f"{v['offer_type']} offer" if v["offer_type"] not in ("none", None) else "no offer"
    if group == "length":
        return f"length {int(v['copy_length'])} characters ({v['copy_length_ratio']:.0%} of the {v['channel']} limit)"
    if group == "category":
        fav = members.get("favourite_category")
        if pd.isna(v["category"]):
            return "product category"
        share = float((fav == v["category"]).mean()) if fav is not None else 0.0
        return f"{v['category']}, the favourite category of {share:.0%} of these users"
    return {
        "free_shipping": "offers free shipping",
        "gift": "offers a free gift",
        "urgency": "urgent wording (e.g. 'ends tonight')",
        "personalization": "uses the customer's first name",
        "cta": "has a clear call to action",
        "question": "asks a question",
        "emoji": "uses an emoji",
        "style": "exclamation mark / numbers",
        "code": "includes a promo code",
        "wording": "word choice",
    }[group]


def stratified_sample(members: pd.DataFrame, size: int, seed: int = 0) -> pd.DataFrame:
    """A proportional stratified sample by favourite category and loyalty tier (all rows if small)."""
    if len(members) <= size:
        return members.reset_index(drop=True)
    strata_cols = [c for c in ("favourite_category", "loyalty_tier") if c in members.columns]
    if not strata_cols:
        return members.sample(n=size, random_state=seed).reset_index(drop=True)
    key = members[strata_cols[0]].astype(object).fillna("?").astype(str)
    for col in strata_cols[1:]:
        key = key + "|" + members[col].astype(object).fillna("?").astype(str)
    rng = np.random.default_rng(seed)
    picks = []
    frac = size / len(members)
    for _, idx in key.groupby(key).groups.items():
        idx = np.asarray(idx)
        # Round each stratum's share stochastically so the total stays close to ``size``.
        k = int(np.floor(len(idx) * frac + rng.random()))
        if k:
            picks.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    chosen = np.sort(np.concatenate(picks)) if picks else np.arange(min(size, len(members)))
    # Shuffle so that any prefix is itself a random sample (used for the detail subset).
    return members.loc[members.index[rng.permutation(chosen)]].reset_index(drop=True)


def _members(store: Store, segment, as_of: datetime | None) -> pd.DataFrame:
    from core.segments import segment_members

    return segment_members(store, segment, as_of)


def _score(predictor: Predictor, uf: pd.DataFrame, vf: pd.DataFrame, n_detail: int):
    """Rates per variant (main model), per bootstrap member, and the per-user spread."""
    nu, nv = len(uf), len(vf)
    uidx = np.tile(np.arange(nu), nv)
    vidx = np.repeat(np.arange(nv), nu)
    Z = predictor.model.transform(pair_frame(uf, vf, uidx, vidx))
    p = predictor.model.predict_matrix(Z).reshape(nv, nu)
    detail = np.concatenate([np.arange(v * nu, v * nu + n_detail) for v in range(nv)])
    Zd = Z[detail]
    members = np.array([predictor.model.predict_matrix(Zd, b).reshape(nv, n_detail).mean(axis=1)
                        for b in range(predictor.model.n_members)]).reshape(-1, nv)
    return p, members, Zd


def _historical_rate(store: Store, user_ids: Sequence[str] | None, channel: str, outcome: str):
    """Observed rate of the segment on the channel: (rate, sends) or None without history."""
    col = {"open": "opened", "click": "clicked", "conversion": "converted", "revenue": "revenue"}[outcome]
    sql = f"""SELECT count(e.{col}) AS n, avg(CAST(e.{col} AS DOUBLE)) AS rate
              FROM exposures e JOIN variants v ON v.variant_id = e.variant_id
              WHERE v.channel = ? AND e.{col} IS NOT NULL"""
    if user_ids is None:
        row = store.one(sql, [channel])
    else:
        cur = store.cursor()
        try:
            cur.register("_segment_ids", pd.DataFrame({"user_id": pd.Series(list(user_ids), dtype=object)}))
            row = cur.execute(sql + " AND e.user_id IN (SELECT user_id FROM _segment_ids)", [channel]).fetchone()
        finally:
            cur.close()
    if row is None or not row[0]:
        return None
    return float(row[1]), int(row[0])


def predict_variants(store: Store, predictor: Predictor, variants: pd.DataFrame, segment=None,
                     control_variant_id: str | None = None, send_size: int | None = None, *,
                     members: pd.DataFrame | None = None, as_of: datetime | None = None,
                     sample_size: int = SAMPLE_SIZE, seed: int = 0) -> list[VariantPrediction]:
    """Predict each variant's rate for a segment (``None`` = all customers).

    Parameters
    ----------
    variants:
        Columns ``variant_id``, ``copy_text``, ``channel``; optional ``offer_type``,
        ``offer_value``, ``promo_code``, ``category``, ``is_control``.
    control_variant_id:
        The control to compute lift against; default: a row with ``is_control``, else
        the segment's historical rate on the variant's channel.
    send_size:
        Planned number of sends; adds the send-level interval.
    members:
        Member features to use instead of ``segment_members`` (benchmarks, tests).
    """
    if variants is None or variants.empty:
        raise PredictionError("no variants to score; add copy to the working set in the Copy Lab")
    variants = variants.reset_index(drop=True)
    if "variant_id" not in variants.columns:
        variants = variants.assign(variant_id=[f"row {i + 1}" for i in range(len(variants))])
    if variants["variant_id"].astype(str).duplicated().any():
        raise PredictionError("variant ids must be unique")
    if send_size is not None and send_size <= 0:
        raise PredictionError(f"send size must be a positive number of users, got {send_size}")
    segment_name = getattr(segment, "name", None) or "All customers"
    ref = predictor.reference
    if members is None:
        has_users = bool(store.scalar("SELECT count(*) > 0 FROM users"))
        members = _members(store, segment, as_of) if has_users else pd.DataFrame()
        if has_users and ref.get("uses_user_features", True):
            members = with_category_shares(store, members, as_of) if len(members) else members
        if ref.get("uses_attributes"):
            members = with_attributes(store, members) if len(members) else members
    if members.empty and segment is not None:
        raise PredictionError(f"segment {segment_name!r} has no members; pick another segment or widen its rules")
    n_members = len(members)
    if n_members == 0:
        # No user data at all (aggregates only): score one 'unknown customer' for the population.
        sample = pd.DataFrame({"user_id": [None]})
    else:
        sample = stratified_sample(members, sample_size, seed)
    uf = user_frame(sample)
    vf = variant_features(variants)
    n_detail = min(len(uf), DETAIL_SIZE)
    p, member_rates, Zd = _score(predictor, uf, vf, n_detail)
    rates = p.mean(axis=1)
    nv = len(vf)
    model_sd = member_rates.std(axis=0, ddof=1) if len(member_rates) > 1 else np.zeros(nv)
    # A sample of members adds its own error to the segment mean.
    sample_se = p.std(axis=1, ddof=1) / np.sqrt(len(uf)) if len(uf) < n_members else np.zeros(nv)
    sd = np.sqrt(model_sd ** 2 + sample_se ** 2)

    thin = n_members < THIN_MEMBERS or not ref.get("uses_user_features", True)
    if 0 < n_members < SHRINK_MEMBERS * 5 and segment is not None:
        pop = predict_variants(store, predictor, variants, None, seed=seed, sample_size=min(sample_size, 2000),
                               as_of=as_of)
        pop_rates = np.array([x.rate for x in pop])
        k = n_members / (n_members + SHRINK_MEMBERS)
        rates = k * rates + (1 - k) * pop_rates
        member_rates = k * member_rates + (1 - k) * np.array([x.rate for x in pop])[None, :]

    # Control: a chosen variant, else an is_control row, else the segment's history per channel.
    ids = vf["variant_id"].astype(str).tolist()
    if control_variant_id is None and "is_control" in variants.columns:
        flagged = variants.index[variants["is_control"].fillna(False).astype(bool)].tolist()
        control_variant_id = ids[flagged[0]] if flagged else None
    if control_variant_id is not None and control_variant_id not in ids:
        raise PredictionError(f"control variant {control_variant_id!r} is not among the variants scored")
    ci = ids.index(control_variant_id) if control_variant_id is not None else None
    user_ids = None if segment is None or n_members == 0 else members["user_id"].astype(str).tolist()
    history: dict[str, tuple[float, int] | None] = {}

    # Out of distribution: copy far from every training variant, or a channel never trained on.
    vecs = copy_vectors(pair_frame(uf.iloc[:1], vf, np.zeros(nv, dtype=int), np.arange(nv)), predictor.model)
    nearest = nearest_distance((vecs - ref["copy_centre"]) / ref["copy_scale"], ref["copy_vectors"])

    n_reason = min(n_detail, REASON_SIZE)
    keep = np.concatenate([np.arange(v * n_detail, v * n_detail + n_reason) for v in range(nv)])
    reasons = _reasons(predictor, Zd[keep], vf, sample, nv, n_reason, base=p[:, :n_reason].mean(axis=1))
    out = []
    for i, vid in enumerate(ids):
        rate = float(rates[i])
        low, high = max(0.0, rate - Z90 * sd[i]), rate + Z90 * sd[i]
        if predictor.outcome != "revenue":
            high = min(1.0, high)
        send_low = send_high = None
        if send_size:
            noise = rate * (1 - rate) if predictor.outcome != "revenue" else ref["target_sd"] ** 2
            ssd = np.sqrt(sd[i] ** 2 + noise / send_size)
            send_low, send_high = max(0.0, rate - Z90 * ssd), rate + Z90 * ssd
            if predictor.outcome != "revenue":
                send_high = min(1.0, send_high)
        lift = lift_low = lift_high = lift_pct = None
        channel = str(vf["channel"].iloc[i])
        if ci is not None and i != ci:
            lift = rate - float(rates[ci])
            diffs = member_rates[:, i] - member_rates[:, ci]
            lsd = diffs.std(ddof=1) if len(diffs) > 1 else 0.0
            lift_low, lift_high = lift - Z90 * lsd, lift + Z90 * lsd
            lift_pct = lift / float(rates[ci]) if rates[ci] > 0 else None
        elif ci is None:
            if channel not in history:
                history[channel] = _historical_rate(store, user_ids, channel, predictor.outcome)
            hist = history[channel]
            if hist is not None:
                base, sends = hist
                lift = rate - base
                hse = np.sqrt(max(base * (1 - base), 1e-12) / sends) if predictor.outcome != "revenue" \
                    else ref["target_sd"] / np.sqrt(sends)
                lsd = np.sqrt(sd[i] ** 2 + hse ** 2)
                lift_low, lift_high = lift - Z90 * lsd, lift + Z90 * lsd
                lift_pct = lift / base if base > 0 else None
        channel_sends = ref["channel_weight"].get(channel, 0.0)
        ood = bool(nearest[i] > ref["ood_threshold"]) or channel_sends == 0
        out.append(VariantPrediction(
            variant_id=vid, segment_name=segment_name, rate=rate, low=float(low), high=float(high),
            n_members=int(n_members), send_size=send_size,
            send_low=None if send_low is None else float(send_low),
            send_high=None if send_high is None else float(send_high),
            is_control=ci == i, lift_pts=None if lift is None else float(lift),
            lift_low=None if lift_low is None else float(lift_low),
            lift_high=None if lift_high is None else float(lift_high),
            lift_pct=None if lift_pct is None else float(lift_pct),
            reasons=tuple(reasons[i]), thin_data=bool(thin or channel_sends < THIN_CHANNEL_SENDS),
            out_of_distribution=ood, model_version=predictor.version,
        ))
    return out


def _reasons(predictor: Predictor, Zd: np.ndarray, vf: pd.DataFrame, sample: pd.DataFrame, nv: int,
             n_detail: int, top: int = 3, base: np.ndarray | None = None) -> list[list[Reason]]:
    """Top feature groups per variant by |change in rate when the group is neutralized|.

    ``base`` is the main model's mean rate over the same rows, when the caller already has it.
    """
    model = predictor.model
    if base is None:
        base = model.predict_matrix(Zd).reshape(nv, n_detail).mean(axis=1)
    effects: dict[str, np.ndarray] = {}
    for group, idx in _group_columns(predictor).items():
        names = [str(model.feature_names_out_[j]) for j in idx]
        neutral = np.array([_neutral(predictor, n) for n in names])
        block = Zd[:, idx]
        # Only variants whose group differs from neutral can have an effect; skip the rest.
        differs = ~np.isclose(block, neutral[None, :], equal_nan=True).all(axis=1)
        by_variant = differs.reshape(nv, n_detail).any(axis=1)
        eff = np.zeros(nv)
        if by_variant.any():
            rows = np.repeat(by_variant, n_detail)
            Zn = Zd[rows].copy()
            Zn[:, idx] = neutral[None, :]
            alt = model.predict_matrix(Zn).reshape(int(by_variant.sum()), n_detail).mean(axis=1)
            eff[by_variant] = base[by_variant] - alt
        effects[group] = eff
    out = []
    for i in range(nv):
        ranked = sorted(effects.items(), key=lambda kv: -abs(kv[1][i]))
        v = vf.iloc[i]
        out.append([Reason(_label(g, v, sample), float(e[i])) for g, e in ranked[:top] if abs(e[i]) >= MIN_REASON])
    return out


def predictions_frame(predictions: Sequence[VariantPrediction], outcome: str = "conversion") -> pd.DataFrame:
    """A tidy table of predictions (one row per variant) for pages, CSV and charts."""
    rows = []
    for p in predictions:
        rows.append({
            "variant_id": p.variant_id, "segment": p.segment_name, "rate": p.rate, "low": p.low, "high": p.high,
            "send_size": p.send_size, "send_low": p.send_low, "send_high": p.send_high,
            "is_control": p.is_control, "lift_pts": p.lift_pts, "lift_low": p.lift_low,
            "lift_high": p.lift_high, "lift_pct": p.lift_pct,
            "reasons": "; ".join(reason_text(r, outcome) for r in p.reasons),
            "thin_data": p.thin_data, "out_of_distribution": p.out_of_distribution,
            "n_members": p.n_members, "model_version": p.model_version,
        })
    return pd.DataFrame(rows)
