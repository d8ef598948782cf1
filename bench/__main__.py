"""``python -m bench`` (or ``make bench``): every benchmark, at 1,000 and 10,000 agents.

Prints a summary and writes the full results as JSON under bench/results/. Speeds are reported as
ratios against a baseline measured in the same run, since these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench import status_rps


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def core_costs(agents: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.core_costs", "--agents", str(agents)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="1000,10000", help="comma-separated cluster sizes")
    parser.add_argument("--rounds", type=int, default=4, help="measured load rounds per path (alternating order)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load round")
    parser.add_argument("--concurrency", type=int, default=8, help="connections of the load generator")
    parser.add_argument("--skip-http", action="store_true", help="only the in-process snapshot and memory figures")
    parser.add_argument("--modes", default="plain,gzip", help="status serving measured plain, gzip-compressed, or both")
    args = parser.parse_args()
    sizes = [int(n) for n in args.agents.split(",")]

    report = {"machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sizes": {}}
    print(
        f"machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, Python {report['machine']['python']}"
    )
    for agents in sizes:
        entry = report["sizes"][str(agents)] = {"core": core_costs(agents)}
        core = entry["core"]
        print(
            f"{agents:>6} agents  snapshot: cold {core['build_cold_s'] * 1000:7.1f} ms, "
            f"warm {core['build_warm_s'] * 1000:6.1f} ms, 10% changed {core['build_10pct_changed_s'] * 1000:6.1f} ms; "
            f"document {core['document_bytes'] / 1e6:.1f} MB; memory {core['rss_per_node_bytes'] / 1024:.1f} KiB/node"
        )
        if not args.skip_http:
            http = entry["http"] = status_rps.run(
                agents,
                rounds=args.rounds,
                duration_s=args.duration,
                concurrency=args.concurrency,
                modes=tuple(args.modes.split(",")),
            )
            if "status_rps" in http:
                print(
                    f"{agents:>6} agents  GET /v6/status/ {http['status_rps']:8.1f} req/s vs baseline "
                    f"{http['baseline_rps']:8.1f} req/s: ratio {http['ratio']:.3f} "
                    f"(errors {http['errors']}; scheduler RSS {http['scheduler_rss_mb']:.0f} MB)"
                )
            if "gzip" in http:
                gz = http["gzip"]
                print(
                    f"{agents:>6} agents  gzip: {gz['gzip_bytes'] / 1e6:.2f} MB ({gz['size_ratio']:.0f}x smaller); "
                    f"{gz['status_rps']:8.1f} req/s vs pre-compressed {gz['baseline_rps']:8.1f} req/s: "
                    f"ratio {gz['ratio']:.3f} (errors {gz['errors']})"
                )
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
