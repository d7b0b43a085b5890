"""Rules: validation messages, JSON round trip, and compilation to placeholder-only SQL."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.segments import count_segment
from core.segments.rules import Condition, RuleGroup, compile_where, parse_rules, rules_to_dict, segment_query
from tests.segment_fixtures import AS_OF, build_small


def c(feature, op, value=None):
    return {"feature": feature, "operator": op, "value": value}


NESTED = {
    "combinator": "and",
    "rules": [
        c("views_30d", ">=", 1),
        {"combinator": "or", "rules": [c("device", "==", "mobile"), c("region", "in", ["north", "east"])]},
        c("recency_days", "between", [0, 30]),
    ],
}


def test_parse_and_round_trip():
    group = parse_rules(NESTED)
    assert isinstance(group, RuleGroup) and len(group.conditions()) == 4
    assert group.items[1].items[1] == Condition("region", "in", ("north", "east"))
    assert parse_rules(rules_to_dict(group)) == group
    assert parse_rules([c("views_7d", ">", 2)]) == RuleGroup("and", (Condition("views_7d", ">", 2),))


@pytest.mark.parametrize(
    "rules, message",
    [
        ([c("shoe_size", ">", 3)], "unknown feature 'shoe_size'"),
        ([c("views_7d", "~=", 3)], "unknown operator '~='"),
        ([c("views_7d", ">", "3")], "needs a number"),
        ([c("views_7d", ">", True)], "needs a number"),
        ([c("views_7d", ">", float("nan"))], "needs a number"),
        ([c("device", ">", "mobile")], "does not apply to device"),
        ([c("device", "==", 3)], "needs a text value"),
        ([c("cart_abandoner", "==", "yes")], "needs true or false"),
        ([c("recency_days", "between", [30, 0])], "low bound"),
        ([c("recency_days", "between", [0])], "two numbers"),
        ([c("region", "in", "north")], "non-empty list"),
        ([c("region", "in", [])], "non-empty list"),
        ({"combinator": "xor", "rules": []}, "combinator"),
        ([c("views_7d", ">", 1), {"combinator": "or", "rules": []}], "rule 2: an empty group"),
        ([{"feature": "views_7d"}], "needs 'feature', 'operator'"),
        ("views_7d > 3", "expected a group"),
    ],
)
def test_bad_rules_say_what_and_where(rules, message):
    with pytest.raises(ValidationError, match=message):
        parse_rules(rules)


def test_error_names_the_nested_rule():
    bad = [c("views_7d", ">", 1), {"combinator": "or", "rules": [c("device", "==", "mobile"), c("nope", "==", 1)]}]
    with pytest.raises(ValidationError, match=r"rule 2 > rule 2: unknown feature"):
        parse_rules(bad)


def test_compiled_sql_uses_placeholders_only():
    sql, params = compile_where(NESTED)
    assert sql == (
        '("views_30d" >= ?) AND (("device" = ?) OR ("region" IN (?, ?))) AND ("recency_days" BETWEEN ? AND ?)'
    )
    assert params == [1, "mobile", "north", "east", 0, 30]
    for value in ("mobile", "north", "east"):
        assert value not in sql


def test_operator_semantics_in_sql():
    assert compile_where([c("device", "!=", "mobile")])[0] == '("device" IS DISTINCT FROM ?)'
    assert compile_where([c("region", "not in", ["x"])])[0] == '(("region" IS NULL OR "region" NOT IN (?)))'
    assert compile_where([c("recency_days", "is empty")]) == ('("recency_days" IS NULL)', [])
    assert compile_where([]) == ("TRUE", [])


def test_segment_query_is_one_parameterized_query():
    sql, params = segment_query([c("favourite_category", "==", "Shoes")], AS_OF, ("user_id",))
    assert sql == 'SELECT "user_id" FROM user_features WHERE as_of = ? AND (("favourite_category" = ?)) ORDER BY user_id'
    assert params == [AS_OF, "Shoes"]
    with pytest.raises(ValidationError, match="unknown feature columns"):
        segment_query([], AS_OF, ("user_id; DROP TABLE users",))


def test_sql_looking_values_are_just_values(store):
    build_small(store)
    hostile = "mobile' OR '1'='1"
    sql, params = compile_where([c("device", "==", hostile)])
    assert hostile not in sql and params == [hostile]
    assert count_segment(store, [c("device", "==", hostile)], AS_OF) == 0
    assert count_segment(store, [c("region", "in", ["north'); DROP TABLE users; --"])], AS_OF) == 0
    assert store.count("users") == 8
    assert count_segment(store, [c("device", "==", "mobile")], AS_OF) == 3


def test_counts_follow_the_rules_on_the_fixture(store):
    build_small(store)
    assert count_segment(store, None, AS_OF) == 7
    assert count_segment(store, NESTED, AS_OF) == 1  # u1 viewed, is mobile and bought 2 days ago
    assert count_segment(store, [c("device", "!=", "mobile")], AS_OF) == 4
    assert count_segment(store, [c("recency_days", "is empty")], AS_OF) == 3
    either = {"combinator": "or", "rules": [c("cart_abandoner", "==", True), c("review_count", ">=", 1)]}
    assert count_segment(store, either, AS_OF) == 2
