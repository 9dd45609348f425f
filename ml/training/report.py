"""The training report: confusion matrix, top losses and training curves as PNGs, and report.md."""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(path: Path, matrix: list[list[int]], classes: list[str]) -> None:
    import numpy as np

    plt = _pyplot()
    n = len(classes)
    size = max(4.0, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    m = np.asarray(matrix)
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=90, fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    str(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if m[i, j] > m.max() / 2 else "black",
                )
    ax.set_title("Confusion matrix (validation)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_top_losses(path: Path, top: list[dict], prep) -> None:
    """The validation images the model got most wrong: actual / predicted / loss / probability."""
    from ml.images import ImageError, load_rgb

    plt = _pyplot()
    n = max(1, len(top))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, item in zip(axes.ravel(), top):
        try:
            ax.imshow(prep.resize_crop(load_rgb(item["path"], target_size=prep.resize_size)))
        except ImageError:
            pass
        ax.set_title(
            f"{item['actual']} / {item['predicted']}\n{item['loss']:.2f} / {item['probability']:.2f}", fontsize=8
        )
    fig.suptitle("Top losses: actual / predicted, loss / probability", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_training_curves(path: Path, history: list[dict]) -> None:
    plt = _pyplot()
    fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    ax_loss.plot(epochs, [h["valid_loss"] for h in history], marker="o", label="validation loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.legend()
    ax_f1.plot(epochs, [h["macro_f1"] for h in history], marker="o", label="macro-F1")
    ax_f1.plot(epochs, [h["accuracy"] for h in history], marker="o", label="accuracy")
    ax_f1.set_xlabel("epoch")
    ax_f1.set_ylim(0, 1)
    ax_f1.legend()
    frozen = [h["epoch"] for h in history if h["phase"] == "frozen"]
    if frozen:
        for ax in (ax_loss, ax_f1):
            ax.axvspan(min(frozen) - 0.5, max(frozen) + 0.5, color="grey", alpha=0.15, label="frozen body")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def per_class_table(rows: list[dict]) -> str:
    lines = ["| class | precision | recall | F1 | support | predicted |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [
        f"| {r['class']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | {r['support']} | {r['predicted']} |"
        for r in rows
    ]
    return "\n".join(lines)


def write_report(output: Path, metrics: dict, prep, config: dict) -> None:
    """confusion_matrix.png, top_losses.png, training_curves.png and report.md into `output`."""
    output = Path(output)
    plan = metrics["plan"]
    plot_confusion_matrix(output / "confusion_matrix.png", metrics["confusion_matrix"], plan["classes"])
    plot_top_losses(output / "top_losses.png", metrics.get("top_losses", []), prep)
    plot_training_curves(output / "training_curves.png", metrics["history"])
    dropped = ", ".join(f"{n} {reason}" for reason, n in plan["dropped"].items()) or "nothing"
    history = [
        "| epoch | phase | train loss | valid loss | macro-F1 | accuracy | s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    history += [
        f"| {h['epoch']} | {h['phase']} | {h['train_loss']:.4f} | {h['valid_loss']:.4f} | {h['macro_f1']:.4f} | {h['accuracy']:.4f} | {h['seconds']} |"
        for h in metrics["history"]
    ]
    text = f"""# Training report: {metrics["arch"]} ({config.get("name") or Path(output).name})

| | |
| --- | --- |
| macro-F1 (best epoch {metrics["best_epoch"]}) | **{metrics["macro_f1"]:.4f}** |
| accuracy | {metrics["accuracy"]:.4f} |
| validation loss (NLL, unweighted) | {metrics["valid_loss"]:.4f} |
| expected calibration error | {metrics["ece_before"]:.4f} before, {metrics["ece_after"]:.4f} after temperature scaling (T = {metrics["temperature"]:.3f}) |
| split | {plan["split"]}: {plan["train_images"]} training, {plan["valid_images"]} validation images ({metrics["valid_images"]} readable and evaluated), {len(plan["classes"])} classes |
| dropped | {dropped}; unreadable: {len(metrics["unreadable"])} |
| model | {metrics["arch"]}, pretrained {metrics["pretrained"]}, input {metrics["input_size"]} px, lr {metrics["lr"]:.2e}, seed {metrics["seed"]}, {metrics["device"]} |
| time | {metrics["seconds"]} s |

{"".join(f"> warning: {w}" + chr(10) + chr(10) for w in plan["warnings"])}The temperature is fitted on the validation set, so the ECE after scaling is measured on the
data it was fitted to (optimistic with few images).

## Per class (validation)

{per_class_table(metrics["per_class"])}

## Confusion matrix

![confusion matrix](confusion_matrix.png)

## Top losses

![top losses](top_losses.png)

## Training curves

![training curves](training_curves.png)

{chr(10).join(history)}

## Command options

```
{chr(10).join(f"{k}: {v}" for k, v in config.items() if k not in ("label_taxa",))}
```
"""
    (output / "report.md").write_text(text)
