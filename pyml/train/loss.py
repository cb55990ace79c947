"""The asymmetric multi-label loss PaddleClas trains these models with (Ridnik et al., ICCV
2021): negatives are down-weighted by (p)^gamma_neg after shifting their probability by
`clip`, positives by (1-p)^gamma_pos. PaddleClas' multi-label configs use gamma_neg 4,
gamma_pos 0, clip 0.05 with the focusing weight outside the gradient; so does pyml.

PaddleClas sums the loss over classes and batch; pyml sums over classes and averages
over the batch, so the learning rate does not have to change with the batch size.
"""

from __future__ import annotations

EPS = 1e-8


def asymmetric_loss(logits, targets, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05):
    """Mean over the batch of the per-image loss summed over classes. logits, targets: [N, C]."""
    import paddle
    import paddle.nn.functional as F

    p = F.sigmoid(logits)
    p_neg = 1.0 - p
    if clip > 0:
        p_neg = paddle.clip(p_neg + clip, max=1.0)
    log_likelihood = targets * paddle.log(paddle.clip(p, min=EPS)) + (1.0 - targets) * paddle.log(
        paddle.clip(p_neg, min=EPS)
    )
    if gamma_neg > 0 or gamma_pos > 0:
        with paddle.no_grad():  # the focusing weight is a constant of each step (no gradient)
            p_true = p * targets + p_neg * (1.0 - targets)
            gamma = gamma_pos * targets + gamma_neg * (1.0 - targets)
            weight = paddle.pow(1.0 - p_true, gamma)
        log_likelihood = log_likelihood * weight
    return -log_likelihood.sum(axis=1).mean()


def binary_cross_entropy(logits, targets):
    """Plain sigmoid cross-entropy, on the same scale (summed over classes, mean over the batch).
    Its scores are calibrated around 0.5 for absent labels; the asymmetric loss leaves absent
    labels' scores higher (its clip ignores negatives under 0.05 and gamma_neg 4 weighs the
    rest lightly), which ranks as well (mAP) but wants a higher threshold than 0.5."""
    import paddle.nn.functional as F

    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(axis=1).mean()


LOSSES = {"asl": asymmetric_loss, "bce": binary_cross_entropy}

__all__ = ["LOSSES", "asymmetric_loss", "binary_cross_entropy"]
