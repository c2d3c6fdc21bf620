"""Uncertainty of the detection benchmarks' figures (used by
scripts/bench-detection and scripts/bench-pool): a share of leaks found
and a false-alarm rate are counts, and a dozen scenarios hold only a few
dozen leaks, so each figure is printed with its 95 % interval."""
import math


def share_interval(k, n, z=1.959964):
    """Wilson's 95 % interval of a share k/n, as text (percent)."""
    if n == 0:
        return "no leaks"
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return f"95 % interval {100 * max(0.0, c - h):.0f}–{100 * min(1.0, c + h):.0f} %"


def rate_interval(k, days):
    """The exact (Garwood) 95 % interval of a Poisson count k in `days`,
    per 4 weeks, as text: bisection on the Poisson distribution."""
    def cdf(k, lam):  # P(X <= k)
        term = total = math.exp(-lam)
        for i in range(1, k + 1):
            term *= lam / i
            total += term
        return total

    def solve(f, lo=0.0, hi=1000.0):
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
        return 0.5 * (lo + hi)

    lower = 0.0 if k == 0 else solve(lambda lam: cdf(k - 1, lam) - 0.975)
    upper = solve(lambda lam: cdf(k, lam) - 0.025)
    return f"95 % interval {lower * 28 / days:.2f}–{upper * 28 / days:.2f}"
