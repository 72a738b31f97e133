"""Exact tests for the paired 0/1 metrics of the report (format, severity, category): McNemar's exact test on the
rows that flipped, Holm's correction across the tests of one table, and the smallest difference a split of n rows
can detect. The paired-bootstrap intervals (ftlab.eval.metrics) stay the headline; these answer a reviewer's questions
"is it significant after multiplicity?" and "could the test have seen it?"."""
import numpy as np
from scipy import stats

ALPHA, POWER = 0.05, 0.80


def mcnemar_exact(wrong_to_right: int, right_to_wrong: int) -> float:
    """Two-sided p of McNemar's exact test: the discordant rows are a binomial(b + c, 1/2) under no difference."""
    n = wrong_to_right + right_to_wrong
    return 1.0 if n == 0 else float(stats.binomtest(wrong_to_right, n, 0.5).pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the input order. scipy has no Holm (its
    false_discovery_control is Benjamini-Hochberg, which controls another error rate)."""
    order = np.argsort(pvalues, kind="stable")
    m, adjusted, running = len(pvalues), [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))  # monotone: never below a smaller p's
        adjusted[i] = running
    return adjusted


def power(n: int, discordant: float, delta: float, alpha: float = ALPHA) -> float:
    """Exact power of McNemar's exact test on n paired rows when a fraction `discordant` of them disagree and
    the accuracy difference is `delta` (so b ~ Binomial(D, (discordant + delta) / (2 discordant)) given the D
    discordant rows, D ~ Binomial(n, discordant))."""
    if discordant <= 0 or abs(delta) > discordant:
        return 0.0 if discordant <= 0 else 1.0
    q = (discordant + abs(delta)) / (2 * discordant)
    total = 0.0
    for d, pd in enumerate(stats.binom.pmf(np.arange(n + 1), n, discordant)):
        if d == 0 or pd < 1e-12:
            continue
        b = np.arange(d + 1)
        # two-sided exact p of each split of d discordant rows (symmetric under 1/2)
        p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, d - b), d, 0.5))
        total += pd * stats.binom.pmf(b[p <= alpha], d, q).sum()
    return float(total)


def minimum_detectable(n: int, discordant: float, alpha: float = ALPHA, target: float = POWER) -> float | None:
    """The smallest accuracy difference (in steps of one row) that McNemar's exact test detects with `target`
    power on n rows at this discordance; None if none up to the discordance can be (too few disagreeing rows)."""
    if n == 0 or discordant <= 0:
        return None
    for k in range(1, int(round(discordant * n)) + 1):
        if power(n, discordant, k / n, alpha) >= target:
            return k / n
    return None
