"""Classification metrics on numpy arrays: macro-F1, per-class table, calibration error, temperature."""

from __future__ import annotations

import numpy as np


def confusion_matrix(targets: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(targets, dtype=np.int64), np.asarray(preds, dtype=np.int64)), 1)
    return matrix


def per_class_scores(targets, preds, classes: list[str]) -> list[dict]:
    """Precision, recall, F1 and support for each class (0 where undefined, like scikit-learn)."""
    matrix = confusion_matrix(targets, preds, len(classes))
    tp = np.diag(matrix).astype(float)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    return [
        {
            "class": c,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "predicted": int(predicted[i]),
        }
        for i, c in enumerate(classes)
    ]


def macro_f1(targets, preds) -> float:
    """Mean F1 over the classes that occur in the targets or the predictions (scikit-learn's default)."""
    targets, preds = np.asarray(targets).ravel(), np.asarray(preds).ravel()
    if targets.size == 0:
        return 0.0
    present = np.union1d(targets, preds)
    n = int(present.max()) + 1
    rows = per_class_scores(targets, preds, [str(i) for i in range(n)])
    return float(np.mean([rows[i]["f1"] for i in present]))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> float:
    probs = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(targets)), targets], 1e-12, None))))


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = 15) -> float:
    """|accuracy - confidence| averaged over equal-width confidence bins, weighted by bin size."""
    probs, targets = np.asarray(probs), np.asarray(targets)
    if len(targets) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == targets).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, targets: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature that minimises the negative log-likelihood: golden-section search on log T."""
    logits, targets = np.asarray(logits, dtype=np.float64), np.asarray(targets, dtype=np.int64)
    if len(targets) == 0:
        return 1.0
    a, b = np.log(lo), np.log(hi)
    ratio = (np.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    for _ in range(80):
        if nll(logits, targets, np.exp(c)) < nll(logits, targets, np.exp(d)):
            b = d
        else:
            a = c
        c, d = b - ratio * (b - a), a + ratio * (b - a)
    return float(np.exp((a + b) / 2))


def summarise(logits: np.ndarray, targets: np.ndarray, classes: list[str], temperature: float) -> dict:
    """Everything metrics.json reports about one set of validation logits."""
    preds = logits.argmax(axis=1)
    before = softmax(logits)
    after = softmax(logits, temperature)
    return {
        "macro_f1": macro_f1(targets, preds),
        "accuracy": float((preds == targets).mean()) if len(targets) else 0.0,
        "valid_loss": nll(logits, targets) if len(targets) else None,
        "valid_images": int(len(targets)),
        "per_class": per_class_scores(targets, preds, classes),
        "confusion_matrix": confusion_matrix(targets, preds, len(classes)).tolist(),
        "temperature": temperature,
        "ece_before": expected_calibration_error(before, targets),
        "ece_after": expected_calibration_error(after, targets),
        "nll_after": nll(logits, targets, temperature) if len(targets) else None,
    }
