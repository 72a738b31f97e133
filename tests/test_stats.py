"""The report's exact tests (ftlab/eval/stats.py): McNemar's exact test, Holm's correction, power and the smallest
detectable difference, checked against hand-computed values and a simulation."""
import numpy as np
import pytest

from ftlab.eval import metrics, reporting, stats


def test_mcnemar_exact_is_the_binomial_test_on_the_discordant_rows():
    assert stats.mcnemar_exact(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 2**12)  # 2 P(X <= 2), X ~ Bin(12, 1/2)
    assert stats.mcnemar_exact(2, 10) == stats.mcnemar_exact(10, 2)
    assert stats.mcnemar_exact(0, 0) == 1.0 and stats.mcnemar_exact(3, 3) == 1.0


def test_holm_steps_down_and_never_falls_below_a_smaller_p():
    raw = [0.01, 0.04, 0.03, 0.005]
    assert stats.holm(raw) == pytest.approx([0.03, 0.06, 0.06, 0.02])  # 0.005x4, 0.01x3, 0.03x2, then max(0.04, 0.06)
    assert all(a >= p for a, p in zip(stats.holm(raw), raw))
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]


def test_power_matches_a_simulation_and_the_detectable_difference_is_the_first_with_80_percent():
    n, discordant, delta = 80, 0.3, 0.15
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):  # each row: +1 (wrong->right), -1 (right->wrong) or 0, with P(+1) - P(-1) = delta
        rows = rng.choice([1, -1, 0], size=n, p=[(discordant + delta) / 2, (discordant - delta) / 2, 1 - discordant])
        hits += stats.mcnemar_exact(int((rows == 1).sum()), int((rows == -1).sum())) <= stats.ALPHA
    assert stats.power(n, discordant, delta) == pytest.approx(hits / 2000, abs=0.03)
    mde = stats.minimum_detectable(n, discordant)
    assert stats.power(n, discordant, mde) >= 0.8 > stats.power(n, discordant, mde - 1 / n)
    assert stats.minimum_detectable(400, discordant) < mde  # more rows, smaller differences
    assert stats.minimum_detectable(10, 0.1) is None  # one disagreeing row: nothing is detectable


def test_the_report_calls_a_clear_win_better_and_a_one_row_change_cannot_tell():
    rows = 80
    deltas = {"test": {"lora": {"severity_accuracy": 0.25, "severity_accuracy_wrong_to_right": 20,
                                "severity_accuracy_right_to_wrong": 0},
                       "lora_vs_classic": {"severity_accuracy": 0.0125, "severity_accuracy_wrong_to_right": 1,
                                           "severity_accuracy_right_to_wrong": 0}}}
    table, notes = reporting.exact_tests(deltas, "test", rows)
    text = "\n".join(table)
    assert "| better" in text.replace("  ", " ") or "better |" in text
    assert len(notes) == 1 and "cannot tell" in notes[0] and "classic baseline" in notes[0]
    # a constant predictor cannot come out better than a perfect one
    perfect = [{"id": i, "severity_accuracy": 1.0} for i in range(rows)]
    constant = [{"id": i, "severity_accuracy": float(i % 4 == 0)} for i in range(rows)]
    d = metrics.compare(perfect, constant, ("severity_accuracy",))
    table, _ = reporting.exact_tests({"test": {"lora": d}}, "test", rows)
    assert "worse" in "\n".join(table) and "better" not in "\n".join(table)
