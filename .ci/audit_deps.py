"""Known vulnerabilities in the pinned dependencies (constraints.txt), checked with pip-audit.

Exit 1 when pip-audit reports a vulnerability in a pinned version; exit 0 otherwise. Trouble that
is not about our dependencies (the vulnerability service unreachable, a registry that does not
serve a version's record) is printed as a warning and does not fail the run: the next run checks
again. ``--report FILE`` reads a pip-audit JSON report instead of running pip-audit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 600


def run_pip_audit() -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        command = [
            sys.executable, "-m", "pip_audit", "-r", str(ROOT / "constraints.txt"),
            "--no-deps", "--disable-pip", "--progress-spinner", "off", "-f", "json", "-o", str(report),
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"audit: WARNING pip-audit did not finish within {TIMEOUT_S} s; not checked", file=sys.stderr)
            return None
        if not report.exists():
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            print(f"audit: WARNING pip-audit failed ({tail[0][:300]}); not checked", file=sys.stderr)
            return None
        return json.loads(report.read_text())


def verdict(report: dict) -> int:
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(f"audit: {dependency['name']} {dependency['version']}: {vuln.get('id')} (fixed in {fixed})")
    if skipped:
        print(
            f"audit: WARNING {len(skipped)} of {len(dependencies)} pinned dependencies could not be checked "
            f"(e.g. {skipped[0]['name']}: {skipped[0]['skip_reason'][:120]})",
            file=sys.stderr,
        )
    if vulnerable:
        print(f"audit: {len(vulnerable)} pinned dependencies have known vulnerabilities: raise their pins")
        return 1
    print(f"audit: no known vulnerability in the {audited} pinned dependencies checked")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--report"]:
        return verdict(json.loads(Path(argv[1]).read_text()))
    report = run_pip_audit()
    return 0 if report is None else verdict(report)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
