"""Warnings drawn from a profile, ranked by severity and then by how much of the data they touch."""

from __future__ import annotations

IMBALANCE_MEDIUM = 1.5
IMBALANCE_HIGH = 4.0
TINY_CLASS = 5
NAMES_IN_MESSAGE = 5
_RANK = {"high": 0, "medium": 1, "low": 2}


def profile_warnings(profile: dict) -> list[dict]:
    found: list[tuple[str, float, str, str]] = []  # (severity, magnitude, code, message)

    def warn(severity: str, magnitude: float, code: str, message: str) -> None:
        found.append((severity, magnitude, code, message))

    items = int(profile.get("item_count") or 0)
    if not items:
        warn("high", 1.0, "no_items", "the version has no items to profile")
    _labels(profile, items, warn)
    _files(profile, warn)
    _values(profile, items, warn)
    _duplicates(profile, items, warn)

    found.sort(key=lambda w: (_RANK[w[0]], -w[1], w[2], w[3]))
    return [{"severity": s, "code": code, "message": message} for s, _, code, message in found]


def _labels(profile: dict, items: int, warn) -> None:
    labelled = int(profile.get("labelled_count") or 0)
    unlabelled = int(profile.get("unlabelled_count") or 0)
    if items and not labelled:
        warn("medium", 1.0, "unlabelled_items", "no item is labelled yet")
    elif unlabelled:
        warn(
            "low",
            unlabelled / items,
            "unlabelled_items",
            f"{unlabelled} of {items} items are unlabelled ({_percent(unlabelled, items)})",
        )
    if profile.get("label_kind") == "numeric":
        return  # a regression target: there are no classes to balance
    balance = {k: int(v) for k, v in (profile.get("class_balance") or {}).items()}
    if len(balance) == 1:
        (name,) = balance
        warn("medium", 1.0, "single_class", f"every labelled item has the same class, {_name(name)}")
    if len(balance) >= 2:
        ranked = sorted(balance.items(), key=lambda kv: (-kv[1], kv[0]))
        (largest, most), (smallest, fewest) = ranked[0], ranked[-1]
        ratio = most / max(1, fewest)
        if ratio >= IMBALANCE_MEDIUM:
            severity = "high" if ratio >= IMBALANCE_HIGH else "medium"
            message = (
                f"class {_name(smallest)} has {_ratio(ratio)} fewer items than class "
                f"{_name(largest)} ({fewest} against {most})"
            )
            also = sum(1 for _, count in ranked[1:-1] if most / max(1, count) >= IMBALANCE_HIGH)
            if also and severity == "high":
                message += (
                    f"; {also} other {_plural(also, 'class is', 'classes are')} "
                    f"{IMBALANCE_HIGH:g}x or more smaller too"
                )
            warn(severity, 1 - 1 / ratio, "class_imbalance", message)
    tiny = sorted(((k, v) for k, v in balance.items() if v < TINY_CLASS), key=lambda kv: (kv[1], kv[0]))
    if tiny:
        named = ", ".join(f"{_name(k)} ({v})" for k, v in tiny[:NAMES_IN_MESSAGE])
        more = f", and {len(tiny) - NAMES_IN_MESSAGE} more" if len(tiny) > NAMES_IN_MESSAGE else ""
        warn(
            "medium",
            len(tiny) / len(balance),
            "tiny_classes",
            f"{len(tiny)} {_plural(len(tiny), 'class has', 'classes have')} fewer than {TINY_CLASS} items: "
            f"{named}{more}",
        )


def _files(profile: dict, warn) -> None:
    corrupt = profile.get("corrupt_files") or {}
    count = int(corrupt.get("count") or 0)
    if count:
        names = [str(f.get("file") or f.get("item")) for f in corrupt.get("files", [])]
        listed = ", ".join(names[:NAMES_IN_MESSAGE]) + (", …" if count > NAMES_IN_MESSAGE else "")
        total = int(profile.get("item_count") or count)
        warn(
            "high",
            count / max(1, total),
            "corrupt_files",
            f"{count} {_plural(count, 'file is', 'files are')} not valid images: {listed}",
        )
    bad_lines = int(profile.get("unparsable_lines") or 0)
    if bad_lines:
        warn(
            "high",
            1.0,
            "unparsable_lines",
            f"{bad_lines} {_plural(bad_lines, 'line', 'lines')} of texts.jsonl could not be read",
        )
    images = profile.get("images") or {}
    modes = images.get("modes") or {}
    if len(modes) > 1:
        summary = ", ".join(f"{m} {c}" for m, c in list(modes.items())[:NAMES_IN_MESSAGE])
        warn(
            "low",
            1 - max(modes.values()) / max(1, sum(modes.values())),
            "mixed_image_modes",
            f"images come in {len(modes)} colour modes: {summary}",
        )
    distinct_sizes = int(images.get("distinct_sizes") or 0)
    if distinct_sizes > 1:
        warn("low", 0.0, "varied_image_sizes", f"images come in {distinct_sizes} different sizes")


def _values(profile: dict, items: int, warn) -> None:
    if not items:
        return
    for column, count in (profile.get("missing") or {}).items():
        share = count / items
        severity = "high" if share >= 0.2 else "medium" if share >= 0.05 else "low"
        warn(
            severity,
            share,
            "missing_values",
            f"column {column} has {count} missing {_plural(count, 'value', 'values')} ({_percent(count, items)})",
        )
    examples = {c["name"]: c.get("unparsable_examples") or [] for c in profile.get("columns") or []}
    for column, count in (profile.get("unparsable") or {}).items():
        share = count / items
        shown = ", ".join(repr(e) for e in examples.get(column, [])[:3])
        warn(
            "high" if share >= 0.05 else "medium",
            share,
            "unparsable_values",
            f"column {column} has {count} unparsable {_plural(count, 'value', 'values')}"
            + (f" such as {shown}" if shown else ""),
        )
    columns = profile.get("columns") or []
    empty = [c["name"] for c in columns if c.get("empty")]
    if empty:
        warn(
            "high",
            len(empty) / len(columns),
            "empty_columns",
            f"{_count_columns(empty)} no values at all: {_names(empty)}",
        )
    constant = [c["name"] for c in columns if c.get("constant")]
    if constant:
        warn(
            "medium",
            len(constant) / len(columns),
            "constant_columns",
            f"{_count_columns(constant)} a single value: {_names(constant)}",
        )


def _duplicates(profile: dict, items: int, warn) -> None:
    if not items:
        return
    duplicates = profile.get("duplicates") or {}
    exact = duplicates.get("exact") or {}
    redundant = int(exact.get("redundant") or 0)
    if redundant:
        share = redundant / items
        severity = "high" if share >= 0.1 else "medium" if share >= 0.01 else "low"
        warn(
            severity,
            share,
            "duplicates",
            f"{redundant} {_plural(redundant, 'item is an exact copy', 'items are exact copies')} of another "
            f"({exact.get('groups')} {_plural(exact.get('groups'), 'group', 'groups')}, {_percent(redundant, items)})",
        )
    near = duplicates.get("near") or {}
    near_items = int(near.get("items") or 0)
    if near_items:
        share = near_items / items
        warn(
            "medium" if share >= 0.05 else "low",
            share,
            "near_duplicates",
            f"{near_items} items in {near.get('groups')} {_plural(near.get('groups'), 'group', 'groups')} "
            "are near duplicates of one another",
        )
    conflicts = profile.get("conflicting_labels") or {}
    groups = int(conflicts.get("groups") or 0)
    if groups:
        involved = int(conflicts.get("items") or 0)
        labelled = max(1, int(profile.get("labelled_count") or 0))
        share = involved / labelled
        warn(
            "high" if share >= 0.01 else "medium",
            share,
            "conflicting_labels",
            f"{groups} {_plural(groups, 'group', 'groups')} of duplicates ({involved} items) "
            f"{_plural(groups, 'has', 'have')} conflicting labels: noisy labels",
        )


def _plural(count, one: str, many: str) -> str:
    return one if count == 1 else many


def _count_columns(names: list[str]) -> str:
    return f"{len(names)} {_plural(len(names), 'column has', 'columns have')}"


def _names(names: list[str]) -> str:
    more = f" and {len(names) - NAMES_IN_MESSAGE} more" if len(names) > NAMES_IN_MESSAGE else ""
    return ", ".join(names[:NAMES_IN_MESSAGE]) + more


def _name(label: str) -> str:
    return label if len(label) <= 40 else label[:39] + "…"


def _ratio(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 10 or float(ratio).is_integer() else f"{ratio:.1f}x"


def _percent(part: int, whole: int) -> str:
    share = 100 * part / max(1, whole)
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"
