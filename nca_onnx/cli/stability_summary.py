"""The terminal view of a report's stability section: rows, diagnostic neurons, warnings."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nca_onnx.errors import VerificationError

__all__ = ["check_stability", "print_stability"]


def _metrics(values: dict | None) -> list[str]:
    if values is None:
        return ["-", "-"]
    return [f"{values['accuracy']:.3f}",
            f"{values['mean_confidence']:.4f} ± {values['std_confidence']:.4f}"]


def _class_table(section: dict) -> Table:
    table = Table(title=f"class {section['class']}: {section['clean_images']} clean, "
                        f"{section['adversarial_images'] or 0} adversarial inputs",
                  title_justify="left")
    for column in ("n", "masked", "clean acc", "clean conf", "adv acc", "adv conf"):
        table.add_column(column, justify="left" if column == "masked" else "right",
                         no_wrap=column != "masked", overflow="fold")
    for row in section["rows"]:
        table.add_row(str(row["row"]), row["label"], *_metrics(row["clean"]),
                      *_metrics(row["adversarial"]))
    for row in section["cumulative_rows"]:
        table.add_row(f"1..{row['row']}", row["label"], *_metrics(row["clean"]),
                      *_metrics(row["adversarial"]))
    return table


def print_stability(section: dict, console: Console) -> None:
    """Each class's rows, then the diagnostic neurons, warnings and the cross-check."""
    console.print(f"\n[bold]network stability[/]: the {section['top']} most critical neurons "
                  f"of each class, fault model {section['fault']}")
    for item in section["classes"]:
        console.print(_class_table(item))
    diagnostic = section["diagnostic_neurons"]
    if section["adversarial"] is None:
        console.print("no adversarial set: diagnostic neurons not sought "
                      "(pass --adversarial DIR)")
    elif not diagnostic:
        console.print("diagnostic neurons: none (no masking raised the adversarial accuracy)")
    else:
        console.print(f"diagnostic neurons ({len(diagnostic)}): masking each alone raised the "
                      "adversarial accuracy")
        for item in diagnostic:
            console.print(f"  class {item['class']}: {item['layer']}[{item['index']}] (rank "
                          f"{item['rank']}): adversarial accuracy "
                          f"{item['adversarial_accuracy']:.3f} masked vs "
                          f"{item['unmasked_adversarial_accuracy']:.3f} unmasked, clean "
                          f"accuracy {item['clean_accuracy']:.3f} masked")
    for warning in section["warnings"]:
        console.print(f"[yellow]warning[/]: {warning}")
    check = section["crosscheck"]
    verdict = "[green]passed[/]" if check["passed"] else "[red]FAILED[/]"
    console.print(f"stability cross-check by the reference path: largest deviation "
                  f"{check['max_abs_deviation']:.2e} (tolerance {check['tolerance']:g}) "
                  f"{verdict}")


def check_stability(section: dict) -> None:
    """Raises VerificationError (exit 1) when the stability cross-check failed."""
    check = section["crosscheck"]
    if not check["passed"]:
        raise VerificationError(
            f"the stability engine differs from the reference path by "
            f"{check['max_abs_deviation']:.2e} (> {check['tolerance']:g}); the report records "
            "which rows; rerun with --provider cpu to compare"
        )
