"""Every branch of METHOD.md's criticality, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from nca_onnx.metric.criticality import confidence_drop, criticality


def test_misclassified_with_low_rival_scores_one_over_one_minus_rival():
    # m_i = 0.30 <= m_j = 0.40 < 0.5: 1 / (1 - 0.4) = 1.6667
    assert criticality(0.9, 0.30, 0.40) == pytest.approx(1 / 0.6)


def test_misclassified_with_confident_rival_scores_two():
    assert criticality(0.9, 0.10, 0.85) == 2.0
    assert criticality(0.9, 0.10, 0.5) == 2.0


def test_tie_between_true_class_and_rival_counts_as_misclassified():
    assert criticality(0.9, 0.45, 0.45) == pytest.approx(1 / 0.55)


def test_drop_above_tau_scores_the_drop():
    assert criticality(0.9, 0.6, 0.2, tau=0.1) == pytest.approx(0.3)


def test_drop_below_positive_tau_scores_zero():
    assert criticality(0.9, 0.85, 0.1, tau=0.1) == 0.0


def test_rise_is_anti_critical_only_when_tau_is_zero():
    assert criticality(0.9, 0.95, 0.03, tau=0.0) == pytest.approx(-0.05)
    assert criticality(0.9, 0.95, 0.03, tau=0.2) == 0.0


def test_change_below_noise_floor_counts_as_zero():
    assert criticality(0.9, 0.9 + 5e-7, 0.05) == 0.0
    assert criticality(0.9, 0.9 - 5e-7, 0.05) == 0.0
    assert criticality(0.9, 0.9 - 5e-7, 0.05, noise_floor=1e-7) == pytest.approx(5e-7)


def test_values_stay_in_the_domain_minus_one_to_two():
    rng = np.random.default_rng(0)
    unmasked = rng.uniform(0.8, 1.0, 10_000)
    true_class = rng.uniform(0, 1, 10_000)
    best_other = rng.uniform(0, 1, 10_000) * (1 - true_class)

    values = criticality(unmasked, true_class, best_other)

    assert values.min() >= -1.0 and values.max() <= 2.0


def test_confidence_drop_is_signed():
    assert confidence_drop(np.array([0.9]), np.array([0.4]))[0] == pytest.approx(0.5)
    assert confidence_drop(np.array([0.4]), np.array([0.9]))[0] == pytest.approx(-0.5)
