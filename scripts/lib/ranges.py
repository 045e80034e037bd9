"""Half-open physical ranges [start, end) as the scenarios compare them:
what a guest reserved against what khoboot protected, e820 RAM, firmware
areas."""


def coalesce(ranges):
    """Sorted, merged (touching ranges join) list of (start, end)."""
    out: list[list[int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def uncovered(blocks, ranges):
    """The blocks not wholly inside one range of `ranges` (after merging)."""
    cover = coalesce(ranges)
    return [(s, e) for s, e in blocks if not any(a <= s and e <= b for a, b in cover)]
