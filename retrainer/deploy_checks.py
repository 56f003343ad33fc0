"""Checks on `sam build`'s output (make package-check, part of make lint): every Lambda package stays
small and holds none of the heavy dependencies that belong elsewhere (TensorFlow and the model code in
the training containers, the sagemaker SDK in the deploy venv, moto in the local stack and tests).

    python -m retrainer.deploy_checks .aws-sam/build
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from retrainer.local.template import load

FORBIDDEN = ("tensorflow", "keras", "sagemaker", "moto", "pandas", "numpy", "scarcegan", "training_containers")
# Lambda's limits are 250 MB unzipped and 50 MB zipped for a direct upload; these budgets leave room and
# still catch any of FORBIDDEN (tensorflow alone is ~500 MB unzipped, pandas + numpy ~100 MB).
MAX_UNZIPPED = 64 * 2**20
MAX_ZIPPED = 30 * 2**20
# Bundled although the runtime has it (aws-xray-sdk, from powertools[tracer], depends on botocore): it
# is most of each package and shadows the runtime's botocore, which the runtime's boto3 is built against.
NOTED = {"botocore": "bundled via aws-xray-sdk; shadows the runtime's botocore (consider the Powertools layer)"}


@dataclass(frozen=True)
class Package:
    function: str
    path: Path
    unzipped: int
    zipped: int
    top_level: frozenset[str]

    @property
    def problems(self) -> list[str]:
        found = [f"contains {name}" for name in FORBIDDEN if name in self.top_level]
        if self.unzipped > MAX_UNZIPPED:
            found.append(f"{self.unzipped / 2**20:.1f} MiB unzipped > {MAX_UNZIPPED / 2**20:.0f} MiB")
        if self.zipped > MAX_ZIPPED:
            found.append(f"{self.zipped / 2**20:.1f} MiB zipped > {MAX_ZIPPED / 2**20:.0f} MiB")
        return found


def measure(function: str, path: Path) -> Package:
    files = [Path(root, name) for root, _, names in os.walk(path) for name in names]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:  # as sam deploy zips it
        for file in files:
            archive.write(file, file.relative_to(path).as_posix())
    top_level = frozenset(
        p.name.split("-")[0].split(".")[0].lower() for p in path.iterdir() if not p.name.endswith((".dist-info", ".data"))
    )
    return Package(function, path, sum(f.stat().st_size for f in files), len(buffer.getvalue()), top_level)


def packages(build_dir: Path) -> list[Package]:
    template = load(build_dir / "template.yaml")
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            code = resource["Properties"].get("CodeUri") or resource["Properties"].get("Code")
            if isinstance(code, str):
                found.append(measure(logical_id, build_dir / code))
    if not found:
        raise SystemExit(f"no built functions in {build_dir}: run sam build first")
    return found


def main(argv: list[str] | None = None) -> int:
    build_dir = Path((argv or sys.argv[1:] or [".aws-sam/build"])[0])
    failed = False
    print(f"{'function':<28} {'unzipped':>10} {'zipped':>10}  result")
    for package in packages(build_dir):
        problems = package.problems
        failed |= bool(problems)
        print(f"{package.function:<28} {package.unzipped / 2**20:>7.1f} MiB {package.zipped / 2**20:>6.1f} MiB  "
              + ("; ".join(problems) if problems else "ok"))
        for name, note in NOTED.items():
            if name in package.top_level:
                print(f"{'':<28} note: {name} {note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
