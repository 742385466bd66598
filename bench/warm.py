"""Warm-path timing: every contender at every table size, interleaved request by request.

Each table size has its own database and its own three contenders (three warm containers).
One round looks up one pet per size with every contender of that size; the order of sizes and
of contenders rotates from round to round. So a burst of load from a neighbour on the shared
2-core machine, a garbage collection or InnoDB flushing in the background lands on all sizes and
all contenders alike, instead of on whichever happened to be measured at that moment.

Requests are built before the clock starts and checked after it stops. The rounds are split into
``repeats`` blocks; each block gives a p50 and a p99 per contender and size, and the ratio of
each contender's p50 to the raw floor's at that size in that block. The figures reported are the
medians over blocks (medians of repeated runs, not one long run).
"""

import statistics
import time


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def _rotate(items, shift):
    shift %= len(items)
    return items[shift:] + items[:shift]


def run_rounds(groups, names, first, count):
    """Time rounds ``first .. first + count - 1``; return ``{size: {contender: [ns]}}``.

    ``groups`` maps a table size to its contenders; ``names[size]`` lists the pets to look up.
    """
    sizes = list(groups)
    samples = {size: {c.name: [] for c in groups[size]} for size in sizes}
    work = []
    for index in range(first, first + count):
        for size in _rotate(sizes, index):
            name = names[size][index]
            for contender in _rotate(groups[size], index):
                work.append((size, contender, name, contender.prepare(name)))
    clock = time.perf_counter_ns
    for size, contender, name, request in work:
        started = clock()
        answer = contender.call(request)
        elapsed = clock() - started
        contender.check(name, answer)
        samples[size][contender.name].append(elapsed)
    return samples


def measure(groups, names, warmup, rounds, repeats, floor="raw"):
    """Warm up, then time ``rounds`` rounds in ``repeats`` blocks; return per-size summaries."""
    run_rounds(groups, names, 0, warmup)
    block = max(1, rounds // repeats)
    blocks = [run_rounds(groups, names, warmup + i * block, block) for i in range(repeats)]
    summary = {}
    for size, contenders in groups.items():
        summary[size] = {}
        for contender in contenders:
            p50s, p99s, ratios = [], [], []
            for samples in blocks:
                ordered = sorted(samples[size][contender.name])
                floor_p50 = percentile(sorted(samples[size][floor]), 0.50)
                p50 = percentile(ordered, 0.50)
                p50s.append(p50 / 1000)
                p99s.append(percentile(ordered, 0.99) / 1000)
                ratios.append(p50 / floor_p50)
            summary[size][contender.name] = {
                "p50_us": round(statistics.median(p50s), 1),
                "p99_us": round(statistics.median(p99s), 1),
                "ratio_p50_to_raw": round(statistics.median(ratios), 3),
                "p50_us_per_repeat": [round(v, 1) for v in p50s],
                "samples": sum(len(samples[size][contender.name]) for samples in blocks),
            }
    return summary
