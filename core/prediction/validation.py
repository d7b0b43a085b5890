"""Checks on real experiments: by-test and by-customer cross-validation, against baselines in the same run.

``evaluate_tests`` is for an archive of aggregate A/B tests (variants of one campaign
share an audience): folds split whole tests, and within each held-out test every pair
of variants is scored by whether the model orders them as observed. "Decided" pairs
differ clearly (two-proportion |z| > 1.96). Baselines: "longer text wins" and a pooled
bag-of-words logistic regression on the same folds.

``evaluate_customers`` is for a user-level experiment with a no-send (or other) control
arm: folds split customers; reported are the AUC of the held-out outcomes and, per arm,
the predicted lift over the control (mean over held-out customers of the predicted rate
with that arm minus with the control) next to the observed lift and its 95% interval.
Baselines: the arm alone, and a logistic regression with arm x attribute interactions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.stats import spearmanr
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, KFold

from core.errors import PredictionError
from core.prediction.features import COPY_COLUMNS, PAIR_NUMERIC, TEXT_COLUMN, TrainingData
from core.prediction.threads import limited_threads
from core.prediction.training import TrainingSettings, fit_predictor, subset

Z_DECIDED = 1.96


def variant_units(data: TrainingData) -> pd.DataFrame:
    """One row per (campaign, variant): successes, trials, text and the row index of its first row."""
    frame = pd.DataFrame({"campaign": data.groups, "variant": data.variant_ids, "w": data.weight,
                          "s": data.weight * data.y, "row": np.arange(data.n_rows)})
    units = frame.groupby(["campaign", "variant"], sort=True).agg(successes=("s", "sum"), trials=("w", "sum"),
                                                                  row=("row", "min")).reset_index()
    units["text"] = data.X[TEXT_COLUMN].astype(str).to_numpy()[units["row"].to_numpy()]
    return units


def pair_scores(score: np.ndarray, successes: np.ndarray, trials: np.ndarray, tests: np.ndarray) -> dict:
    """Pairwise accuracy within tests (decided pairs and all pairs with a difference) and mean Spearman."""
    hits_decided, hits_all, rhos = [], [], []
    frame = pd.DataFrame({"s": score, "c": successes, "n": trials, "g": tests})
    for _, b in frame.groupby("g", sort=True):
        if len(b) < 2:
            continue
        s, c, n = b["s"].to_numpy(float), b["c"].to_numpy(float), b["n"].to_numpy(float)
        r = c / np.maximum(n, 1e-12)
        i, j = np.triu_indices(len(b), 1)
        pooled = (c[i] + c[j]) / np.maximum(n[i] + n[j], 1e-12)
        se = np.sqrt(np.maximum(pooled * (1 - pooled) * (1 / np.maximum(n[i], 1e-12) + 1 / np.maximum(n[j], 1e-12)),
                                1e-18))
        z = (r[i] - r[j]) / se
        observed, predicted = np.sign(r[i] - r[j]), np.sign(s[i] - s[j])
        hit = np.where(predicted == 0, 0.5, (predicted == observed).astype(float))
        hits_all.extend(hit[observed != 0])
        hits_decided.extend(hit[np.abs(z) > Z_DECIDED])
        if len(b) >= 3 and np.ptp(r) > 0 and np.ptp(s) > 0:
            rhos.append(float(spearmanr(s, r).statistic))
    mean = lambda v: float(np.mean(v)) if len(v) else None  # noqa: E731
    return {"decided_pairs": len(hits_decided), "accuracy_decided": mean(hits_decided),
            "all_pairs": len(hits_all), "accuracy_all": mean(hits_all),
            "tests_ranked": len(rhos), "mean_spearman": mean(rhos)}


def _bow_scores(units: pd.DataFrame, tr: np.ndarray, te: np.ndarray) -> np.ndarray:
    """Pooled bag-of-words logistic regression on (successes, failures) of the training variants."""
    vec = CountVectorizer(binary=True, min_df=2)
    Xtr = vec.fit_transform(units["text"].iloc[tr])
    Xte = vec.transform(units["text"].iloc[te])
    s, n = units["successes"].to_numpy()[tr], units["trials"].to_numpy()[tr]
    w = np.r_[s, np.maximum(n - s, 0)]
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(sparse.vstack([Xtr, Xtr]), np.r_[np.ones(len(tr)),
                                                                                        np.zeros(len(tr))],
                                                       sample_weight=w / max(w.mean(), 1e-12))
    return lr.decision_function(Xte)


def evaluate_tests(data: TrainingData, settings: TrainingSettings | None = None, n_folds: int = 5,
                   progress=None) -> dict:
    """By-test cross-validation of within-test ranking, with the baselines on the same folds."""
    settings = settings or TrainingSettings()
    quick = TrainingSettings(**{**settings.__dict__, "n_bootstrap": 0})
    units = variant_units(data)
    if units["campaign"].nunique() < n_folds:
        raise PredictionError(f"need at least {n_folds} campaigns (tests) for by-test cross-validation")
    scores = {name: np.zeros(len(units)) for name in ("copylift", "longer_text_wins", "bag_of_words_lr")}
    folds = GroupKFold(n_splits=n_folds).split(units, groups=units["campaign"])
    for k, (tr, te) in enumerate(folds):
        test_campaigns = units["campaign"].iloc[te].unique()
        predictor = fit_predictor(subset(data, ~np.isin(data.groups, test_campaigns)), quick)
        rows = units["row"].to_numpy()[te]
        scores["copylift"][te] = predictor.model.predict_rate(data.X.iloc[rows].reset_index(drop=True))
        scores["longer_text_wins"][te] = units["text"].iloc[te].str.len().to_numpy()
        with limited_threads():
            scores["bag_of_words_lr"][te] = _bow_scores(units, tr, te)
        if progress:
            progress((k + 1) / n_folds, f"fold {k + 1} of {n_folds}")
    c, n, g = units["successes"].to_numpy(), units["trials"].to_numpy(), units["campaign"].to_numpy()
    return {"mode": "aggregate tests, by-test cross-validation", "outcome": data.outcome, "folds": n_folds,
            "tests": int(units["campaign"].nunique()), "variants": int(len(units)),
            "text_representation": predictor.reference["text_representation"],
            "models": {name: pair_scores(s, c, n, g) for name, s in scores.items()}}


def _with_variant(X: pd.DataFrame, template: pd.Series) -> pd.DataFrame:
    """``X`` with its copy columns replaced by one variant's (the same customers sent another arm)."""
    out = X.copy()
    for col in list(COPY_COLUMNS) + list(PAIR_NUMERIC):
        if col in out.columns:
            out[col] = [template[col]] * len(out)
    return out


def _attribute_design(X: pd.DataFrame, arms: np.ndarray, arm_names: list[str], control: str,
                      fit_cols: list | None = None) -> pd.DataFrame:
    attrs = [c for c in X.columns if str(c).startswith(("attr_num::", "attr_cat::"))]
    num = [c for c in attrs if str(c).startswith("attr_num::")]
    cat = [c for c in attrs if str(c).startswith("attr_cat::")]
    base = X[num].astype(float).fillna(0.0)
    if cat:
        base = pd.concat([base, pd.get_dummies(X[cat].astype(str), dtype=float)], axis=1)
    onehot = pd.DataFrame({f"arm={a}": (arms == a).astype(float) for a in arm_names if a != control},
                          index=X.index)
    inter = [base.mul(onehot[a], axis=0).add_prefix(f"{a} x ") for a in onehot.columns]
    design = pd.concat([base, onehot, *inter], axis=1)
    return design if fit_cols is None else design.reindex(columns=fit_cols, fill_value=0.0)


def _lift_row(pred: dict, y: np.ndarray, arms: np.ndarray, arm: str, control: str) -> dict:
    a, c = y[arms == arm], y[arms == control]
    observed = float(a.mean() - c.mean())
    se = float(np.sqrt(a.var() / len(a) + c.var() / len(c)))
    low, high = observed - Z_DECIDED * se, observed + Z_DECIDED * se
    out = {"observed": observed, "observed_low": low, "observed_high": high}
    for name, p in pred.items():
        lift = float(np.mean(p[arm]) - np.mean(p[control]))
        out[name] = lift
        out[f"{name}_inside"] = bool(low <= lift <= high)
    return out


def evaluate_customers(data: TrainingData, control: str, settings: TrainingSettings | None = None,
                       n_folds: int = 5, seed: int = 0, progress=None) -> dict:
    """By-customer cross-validation: AUC and per-arm lift against the control, with baselines."""
    settings = settings or TrainingSettings()
    quick = TrainingSettings(**{**settings.__dict__, "n_bootstrap": 0})
    arms = np.asarray(data.variant_ids).astype(str)
    arm_names = sorted(set(arms))
    if control not in arm_names:
        raise PredictionError(f"control arm {control!r} is not among the variants ({', '.join(arm_names)})")
    users = np.asarray(data.user_ids).astype(str)
    uniq = np.unique(users)
    templates = {a: data.X.iloc[int(np.flatnonzero(arms == a)[0])] for a in arm_names}
    names = ("copylift", "arm_alone", "arm_x_attribute_lr")
    score = {n: np.zeros(data.n_rows) for n in names}
    cf = {n: {a: np.zeros(data.n_rows) for a in arm_names} for n in names}
    for k, (_tr_u, te_u) in enumerate(KFold(n_folds, shuffle=True, random_state=seed).split(uniq)):
        te = np.isin(users, uniq[te_u])
        predictor = fit_predictor(subset(data, ~te), quick)
        Xte = data.X[te].reset_index(drop=True)
        score["copylift"][te] = predictor.model.predict_rate(Xte)
        ytr, atr = data.y[~te], arms[~te]
        rates = {a: float(np.average(ytr[atr == a], weights=data.weight[~te][atr == a])) for a in arm_names}
        score["arm_alone"][te] = [rates[a] for a in arms[te]]
        with limited_threads():
            D = _attribute_design(data.X[~te], atr, arm_names, control)
            mu, sd = D.mean(), D.std().replace(0, 1.0)
            lr = LogisticRegression(C=1.0, max_iter=3000).fit((D - mu) / sd, ytr, sample_weight=data.weight[~te])
            lr_rate = lambda X, a: lr.predict_proba((_attribute_design(  # noqa: E731, B023 (used in this fold only)
                X, a, arm_names, control, list(D.columns)) - mu) / sd)[:, 1]  # noqa: B023
            score["arm_x_attribute_lr"][te] = lr_rate(Xte, arms[te])
            for a in arm_names:
                cf["copylift"][a][te] = predictor.model.predict_rate(_with_variant(Xte, templates[a]))
                cf["arm_alone"][a][te] = rates[a]
                cf["arm_x_attribute_lr"][a][te] = lr_rate(Xte, np.full(int(te.sum()), a))
        if progress:
            progress((k + 1) / n_folds, f"fold {k + 1} of {n_folds}")
    y, w = data.y, data.weight
    report = {"mode": "user-level experiment, by-customer cross-validation", "outcome": data.outcome,
              "folds": n_folds, "customers": int(len(uniq)), "control": control,
              "calibration_check": predictor.metrics.get("calibration_check"),
              "auc": {n: float(roc_auc_score(y, s, sample_weight=w)) for n, s in score.items()},
              "spread_sd": {n: float(np.std(s)) for n, s in score.items()},
              "lift": {a: _lift_row(cf, y, arms, a, control) for a in arm_names if a != control}}
    return report


def _print_tests(report: dict) -> None:
    print(f"{report['mode']}: {report['tests']:,} tests, {report['variants']:,} variants, outcome {report['outcome']}")
    print(f"{'model':<22} {'decided pairs':>14} {'all pairs':>10} {'mean Spearman':>14}")
    for name, m in report["models"].items():
        print(f"{name:<22} {m['accuracy_decided']:>14.3f} {m['accuracy_all']:>10.3f} {m['mean_spearman']:>14.3f}")
    first = next(iter(report["models"].values()))
    print(f"({first['decided_pairs']:,} decided pairs with |z| > {Z_DECIDED}, {first['all_pairs']:,} pairs in all)")


def _print_customers(report: dict) -> None:
    print(f"{report['mode']}: {report['customers']:,} customers, outcome {report['outcome']}, "
          f"control {report['control']!r}")
    print(f"{'model':<22} {'AUC':>7}  " + "  ".join(f"{'lift ' + a:>26}" for a in report["lift"]))
    for name, auc in report["auc"].items():
        cells = "  ".join(f"{report['lift'][a][name] * 100:>+21.2f} pts{' ok' if report['lift'][a][name + '_inside'] else ' --'}"
                          for a in report["lift"])
        print(f"{name:<22} {auc:>7.3f}  {cells}")
    for a, row in report["lift"].items():
        print(f"observed lift {a}: {row['observed'] * 100:+.2f} pts "
              f"(95% interval {row['observed_low'] * 100:+.2f} .. {row['observed_high'] * 100:+.2f})")


def run_evaluation(store, mode: str, outcome: str, control: str | None, folds: int,
                   settings: TrainingSettings | None) -> int:
    """The CLI's ``evaluate``: pick the mode from the data when asked, print a table and one JSON line."""
    import json
    import sys

    from core.prediction.features import build_training_data

    data = build_training_data(store, outcome)
    if mode == "auto":
        mode = "customers" if (data.source == "exposure").any() else "tests"
    progress = lambda f, m: print(f"[{f:4.0%}] {m}", file=sys.stderr)  # noqa: E731
    if mode == "tests":
        report = evaluate_tests(subset(data, data.source == "aggregate"), settings, folds, progress)
        _print_tests(report)
    else:
        if control is None:
            flagged = store.df("SELECT variant_id FROM variants WHERE is_control ORDER BY variant_id")
            if flagged.empty:
                raise PredictionError("name the control arm with --control VARIANT (no variant is marked as control)")
            control = str(flagged["variant_id"].iloc[0])
        report = evaluate_customers(subset(data, data.source == "exposure"), control, settings, folds,
                                    progress=progress)
        _print_customers(report)
    print(json.dumps(report, default=float))
    return 0
