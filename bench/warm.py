"""Warm-path timing: the contenders interleaved request by request, in repeated blocks.

Each round looks up one pet with every contender, in an order that rotates from round to round,
so a burst of load from a neighbour on the shared machine, a garbage collection or a busy
database thread lands on all contenders alike. Requests are built before the clock starts and
checked after it stops. The run is split into ``repeats`` blocks; each block gives a p50 and a
p99 per contender and the ratio of each contender's p50 to the floor's in that block, and the
reported figures are the medians over blocks (the issue asks for medians of repeated runs).
"""

import statistics
import time


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def run_rounds(contenders, pet_names):
    """Time one request per contender per name; return ``{contender: [ns, ...]}``."""
    samples = {c.name: [] for c in contenders}
    prepared = [[(c, c.prepare(name)) for c in contenders] for name in pet_names]
    clock = time.perf_counter_ns
    count = len(contenders)
    for index, (name, requests) in enumerate(zip(pet_names, prepared, strict=True)):
        shift = index % count
        for contender, request in requests[shift:] + requests[:shift]:
            started = clock()
            answer = contender.call(request)
            elapsed = clock() - started
            contender.check(name, answer)
            samples[contender.name].append(elapsed)
    return samples


def measure(contenders, pet_names, warmup_names, repeats, floor="raw"):
    """Warm up, then time ``pet_names`` split into ``repeats`` blocks; return the summary."""
    run_rounds(contenders, warmup_names)
    block = max(1, len(pet_names) // repeats)
    blocks = [
        run_rounds(contenders, pet_names[i * block : (i + 1) * block]) for i in range(repeats)
    ]
    summary = {}
    for contender in contenders:
        p50s, p99s, ratios = [], [], []
        for samples in blocks:
            ordered = sorted(samples[contender.name])
            floor_p50 = percentile(sorted(samples[floor]), 0.50)
            p50 = percentile(ordered, 0.50)
            p50s.append(p50 / 1000)
            p99s.append(percentile(ordered, 0.99) / 1000)
            ratios.append(p50 / floor_p50)
        summary[contender.name] = {
            "p50_us": round(statistics.median(p50s), 1),
            "p99_us": round(statistics.median(p99s), 1),
            "ratio_p50_to_raw": round(statistics.median(ratios), 3),
            "p50_us_per_repeat": [round(v, 1) for v in p50s],
            "samples": sum(len(samples[contender.name]) for samples in blocks),
        }
    return summary
