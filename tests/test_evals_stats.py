"""Eval statistics agree with scipy/statsmodels, and comparisons flag what a user would see.

The expected values were produced with scipy 1.17.1 and statsmodels 0.15.0; each carries
the call that produced it, so anyone can recompute them.
"""

from __future__ import annotations

import itertools

import pytest

from homeport.evals.stats import Counts, cmh, compare, fisher_exact, holm, wilson


@pytest.mark.parametrize(
    ("passed", "total", "expected"),
    [
        # statsmodels.stats.proportion.proportion_confint(0, 10, method="wilson")
        (0, 10, (0.0, 0.27753279986288926)),
        # statsmodels.stats.proportion.proportion_confint(10, 10, method="wilson")
        (10, 10, (0.7224672001371106, 1.0)),
        # statsmodels.stats.proportion.proportion_confint(7, 10, method="wilson")
        (7, 10, (0.39677814746114537, 0.8922087325936989)),
        # statsmodels.stats.proportion.proportion_confint(1, 3, method="wilson")
        (1, 3, (0.06149194472039626, 0.7923403991979523)),
        # statsmodels.stats.proportion.proportion_confint(450, 1000, method="wilson")
        (450, 1000, (0.4194153840742968, 0.4809672917742588)),
    ],
)
def test_wilson_matches_statsmodels(passed: int, total: int, expected: tuple[float, float]) -> None:
    assert wilson(passed, total) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_wilson_bounds_are_exact_at_the_extremes() -> None:
    assert wilson(0, 10)[0] == 0.0
    assert wilson(10, 10)[1] == 1.0


def test_wilson_other_confidence() -> None:
    # statsmodels.stats.proportion.proportion_confint(7, 10, alpha=0.1, method="wilson")
    assert wilson(7, 10, 0.90) == pytest.approx((0.44169979586983493, 0.873123416096802))


def test_wilson_without_samples_knows_nothing() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


def test_wilson_contains_the_rate_and_stays_in_unit_interval() -> None:
    for total in (1, 2, 3, 5, 10, 37, 100):
        for passed in range(total + 1):
            low, high = wilson(passed, total)
            assert 0.0 <= low <= passed / total <= high <= 1.0
            assert wilson(passed, total, 0.99)[0] <= low  # more confidence, wider interval


@pytest.mark.parametrize(
    ("table", "two_sided", "less", "greater"),
    [
        # scipy.stats.fisher_exact(table, alternative=...) for "two-sided", "less", "greater"
        ([3, 7, 9, 1], 0.019766611097880443, 0.009883305548940223, 0.9996427720885925),
        ([8, 2, 1, 5], 0.034965034965034975, 0.9991258741258742, 0.024475524475524483),
        ([0, 5, 5, 5], 0.1008991008991009, 0.08391608391608392, 1.0),
        ([300, 700, 250, 750], 0.014093391894333672, 0.9946933744437021, 0.007046695947166836),
        ([2, 7, 8, 2], 0.02301413756522116, 0.01852172595206651, 0.9990149169715733),
        ([10, 0, 0, 10], 1.082508822446903e-05, 1.0, 5.412544112234515e-06),
        ([0, 10, 10, 0], 1.082508822446903e-05, 5.412544112234515e-06, 1.0),
        # Symmetric tables: every two-sided tie must be counted, as scipy's tolerance does.
        ([5, 5, 5, 5], 1.0, 0.6718591006516703, 0.6718591006516703),
        ([1, 2, 2, 1], 1.0, 0.5000000000000001, 0.95),
    ],
)
def test_fisher_matches_scipy(
    table: list[int], two_sided: float, less: float, greater: float
) -> None:
    a, b, c, d = table
    assert fisher_exact(a, b, c, d) == pytest.approx(two_sided, rel=1e-9)
    assert fisher_exact(a, b, c, d, alternative="less") == pytest.approx(less, rel=1e-9)
    assert fisher_exact(a, b, c, d, alternative="greater") == pytest.approx(greater, rel=1e-9)


def test_fisher_with_an_empty_margin_is_uninformative() -> None:
    # scipy.stats.fisher_exact([[0, 0], [3, 4]]) -> pvalue 1.0
    assert fisher_exact(0, 0, 3, 4) == 1.0
    assert fisher_exact(3, 0, 4, 0, alternative="less") == 1.0


def test_fisher_handles_thousands_of_samples() -> None:
    p = fisher_exact(1500, 1500, 1400, 1600, alternative="greater")
    assert 0.0 < p < 0.01


def test_fisher_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        fisher_exact(-1, 2, 3, 4)


def test_holm_matches_statsmodels() -> None:
    # statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005, 0.2], method="holm")[1]
    assert holm([0.01, 0.04, 0.03, 0.005, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.2])


def test_holm_never_lowers_a_p_value_and_caps_at_one() -> None:
    raw = [0.5, 0.001, 0.3, 0.3, 0.04, 0.9, 0.0]
    adjusted = holm(raw)
    assert all(r <= a <= 1.0 for r, a in zip(raw, adjusted, strict=True))
    ranked = sorted(zip(raw, adjusted, strict=True))
    assert all(x[1] <= y[1] for x, y in itertools.pairwise(ranked))
    assert holm([]) == []


def _strata(pairs: list[tuple[tuple[int, int], tuple[int, int]]]) -> list[tuple[Counts, Counts]]:
    return [(Counts(*base), Counts(*head)) for base, head in pairs]


def test_cmh_matches_statsmodels_halved_in_the_worse_direction() -> None:
    # statsmodels.stats.contingency_tables.StratifiedTable(
    #     [[[head.passed, head.failed], [base.passed, base.failed]], ...]
    # ).test_null_odds(correction=True).pvalue is two-sided; when head is the worse side
    # the one-sided p-value is half of it.
    one_broken = _strata([((10, 10), (0, 10)), ((5, 10), (5, 10)), ((8, 10), (8, 10))])
    assert cmh(one_broken) == pytest.approx(0.015759194889934935 / 2)
    all_slightly_worse = _strata(
        [((6, 10), (4, 10)), ((7, 10), (5, 10)), ((5, 10), (3, 10)), ((8, 10), (6, 10))]
    )
    assert cmh(all_slightly_worse) == pytest.approx(0.1155912095782674 / 2)
    # The all-pass and all-fail strata add nothing; only the middle one informs.
    with_flat = _strata([((10, 10), (10, 10)), ((6, 10), (4, 10)), ((0, 5), (0, 5))])
    assert cmh(with_flat) == pytest.approx(0.6629166175161068 / 2)
    assert cmh(with_flat) == cmh(with_flat[1:2])


def test_cmh_is_not_significant_when_head_is_better() -> None:
    better = _strata([((0, 10), (10, 10)), ((5, 10), (5, 10))])
    assert cmh(better) > 0.5


def test_cmh_without_an_informative_stratum_is_one() -> None:
    assert cmh([]) == 1.0
    assert cmh(_strata([((5, 5), (5, 5)), ((0, 3), (0, 3)), ((0, 0), (2, 4))])) == 1.0


def test_counts_rate() -> None:
    assert Counts(3, 4).rate == 0.75
    assert Counts(0, 0).rate == 0.0


def _suite(**cases: tuple[int, int]) -> dict[str, Counts]:
    return {name: Counts(*counts) for name, counts in cases.items()}


def test_identical_versions_are_not_worse() -> None:
    runs = _suite(refund=(8, 10), shipping=(10, 10), tone=(4, 10))
    result = compare(runs, dict(runs))
    assert not result.worse
    assert not result.overall.significant
    # One-sided with the continuity correction, "no difference at all" sits above 0.5.
    assert result.overall.p_value > 0.5
    # scipy.stats.fisher_exact([[x, 10 - x], [x, 10 - x]], alternative="less") for x = 8, 10, 4
    # is 0.709, 1.0, 0.675: Holm over three cases takes all of them to 1.
    assert [case.p_adjusted for case in result.cases] == [1.0, 1.0, 1.0]
    assert not any(case.significant for case in result.cases)


def test_one_broken_case_makes_head_worse() -> None:
    base = _suite(refund=(10, 10), shipping=(5, 10), tone=(8, 10))
    head = _suite(refund=(0, 10), shipping=(5, 10), tone=(8, 10))
    result = compare(base, head)
    assert result.worse
    refund = result.cases[0]
    assert refund.name == "refund"
    assert refund.difference == -1.0
    # scipy.stats.fisher_exact([[0, 10], [10, 0]], alternative="less")
    assert refund.p_value == pytest.approx(5.412544112234515e-06)
    # statsmodels.stats.multitest.multipletests([5.41e-06, 0.67186, 0.70898], method="holm")
    assert refund.p_adjusted == pytest.approx(1.62376323e-05)
    assert refund.significant
    assert [case.significant for case in result.cases[1:]] == [False, False]
    # StratifiedTable(...).test_null_odds(correction=True).pvalue / 2, as above
    assert result.overall.p_value == pytest.approx(0.015759194889934935 / 2)
    assert result.overall.significant


def test_a_better_head_is_not_worse() -> None:
    base = _suite(refund=(2, 10), shipping=(5, 10))
    head = _suite(refund=(10, 10), shipping=(9, 10))
    result = compare(base, head)
    assert not result.worse
    assert result.overall.difference > 0
    assert not result.overall.significant


def test_small_samples_are_not_significant() -> None:
    result = compare(_suite(refund=(3, 3)), _suite(refund=(2, 3)))
    assert not result.worse
    assert not result.cases[0].significant
    # scipy.stats.fisher_exact([[2, 1], [3, 0]], alternative="less")
    assert result.cases[0].p_value == pytest.approx(0.5)


def test_cases_in_one_version_only_are_listed_not_compared() -> None:
    base = _suite(old=(5, 5), kept=(4, 5))
    head = _suite(new=(0, 5), kept=(4, 5))
    result = compare(base, head)
    assert [case.name for case in result.cases] == ["kept"]
    assert result.only_base == ("old",)
    assert result.only_head == ("new",)
    assert result.overall.base == Counts(4, 5)


def test_comparison_json_shape() -> None:
    base = _suite(refund=(10, 10), shipping=(10, 20))
    head = _suite(refund=(0, 10), shipping=(10, 20))
    data = compare(base, head, alpha=0.01).to_dict()
    assert data == {
        "alpha": 0.01,
        "overall": {
            "base_passed": 20,
            "base_total": 30,
            "head_passed": 10,
            "head_total": 30,
            "difference": -0.3333,
            # StratifiedTable([[[0, 10], [10, 0]], [[10, 10], [10, 10]]])
            #     .test_null_odds(correction=True).pvalue / 2 (head is the worse side)
            "p_value": pytest.approx(0.022338602131313445 / 2),
            # 0.011 is not below alpha 0.01, yet the refund case alone makes head worse.
            "significant": False,
        },
        "cases": [
            {
                "name": "refund",
                "base_passed": 10,
                "base_total": 10,
                "head_passed": 0,
                "head_total": 10,
                "difference": -1.0,
                # scipy.stats.fisher_exact([[0, 10], [10, 0]], alternative="less")
                "p_value": pytest.approx(5.412544112234515e-06),
                # statsmodels.stats.multitest.multipletests([...], method="holm")[1]
                "p_adjusted": pytest.approx(1.08250882e-05),
                "significant": True,
            },
            {
                "name": "shipping",
                "base_passed": 10,
                "base_total": 20,
                "head_passed": 10,
                "head_total": 20,
                "difference": 0.0,
                # scipy.stats.fisher_exact([[10, 10], [10, 10]], alternative="less")
                "p_value": pytest.approx(0.6238144327180455),
                "p_adjusted": pytest.approx(0.6238144327180455),
                "significant": False,
            },
        ],
        "only_base": [],
        "only_head": [],
        "worse": True,
    }
    assert isinstance(data["overall"]["p_value"], float)
