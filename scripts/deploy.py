"""Deployment helpers for the Makefile.

`package`: `chalice package` of a clean copy of the app (no __pycache__, no local build caches), merged with
infra/template.yaml, its zip given bytecode compiled from its own sources; reporting one line. `parameters`: the
stack parameters `make deploy` passes, refusing a prod deploy without explicit https origins for CORS."""

import argparse
import importlib.util
import marshal
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from scripts.local_stack import ROOT, stage_environment

APP_FILES = ("app.py", "requirements.txt", "chalicelib", ".chalice/config.json")
CHALICE = Path(sys.executable).parent / "chalice"


class DeployError(Exception):
    """The deployment cannot go ahead; the message says why, in one line."""


def package(*, stage: str, build: Path) -> str:
    """Write build/sam.yaml and build/deployment.zip for the stage; say what was written."""
    shutil.rmtree(build, ignore_errors=True)
    build.parent.mkdir(parents=True, exist_ok=True)
    # The clean copy lives beside the output (under the ignored build folder), not in the system temp folder.
    with tempfile.TemporaryDirectory(prefix=f".{build.name}-src-", dir=build.parent) as source:
        for name in APP_FILES:
            origin, copy = ROOT / name, Path(source) / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(origin, copy)
        result = subprocess.run(
            [
                str(CHALICE),
                "--project-dir",
                source,
                "package",
                "--stage",
                stage,
                "--merge-template",
                str(ROOT / "infra" / "template.yaml"),
                str(build.resolve()),
            ],
            capture_output=True,
            text=True,
            env={"AWS_DEFAULT_REGION": "us-east-1", **os.environ},
        )
    if result.returncode != 0:
        raise DeployError(f"chalice package failed:\n{result.stdout}{result.stderr}")
    zipped = build / "deployment.zip"
    add_bytecode(zipped)
    with zipfile.ZipFile(zipped) as archive:
        files = len(archive.namelist())
    return (
        f"make package: {build}/sam.yaml and {zipped.name} ({zipped.stat().st_size / 1024:.0f} KB, {files} files)"
        f" for stage {stage}"
    )


def add_bytecode(zipped: Path) -> None:
    """Give each source in the zip its bytecode, for this Python (the package's runtime: chalice package picks the
    Python it runs under), as an unchecked-hash .pyc (PEP 552).

    Lambda's task root is read-only, so without these every cold start compiles the app and Chalice's runtime from
    source: about 60 ms (`make bench`). Unchecked-hash files are used without comparing timestamps, which a zip does
    not keep; each is compiled from the very bytes beside it, so it cannot be stale."""
    rewritten = zipped.with_name(f".{zipped.name}.partial")
    with zipfile.ZipFile(zipped) as archive, zipfile.ZipFile(rewritten, "w") as output:
        for info in archive.infolist():
            source = archive.read(info)
            output.writestr(info, source)
            if info.filename.endswith(".py"):
                code = compile(source, info.filename, "exec", dont_inherit=True)
                pyc = zipfile.ZipInfo(importlib.util.cache_from_source(info.filename), date_time=info.date_time)
                pyc.compress_type, pyc.external_attr = info.compress_type, info.external_attr
                output.writestr(
                    pyc,
                    importlib.util.MAGIC_NUMBER
                    + (0b01).to_bytes(4, "little")  # hash, unchecked
                    + importlib.util.source_hash(source)
                    + marshal.dumps(code),
                )
    rewritten.replace(zipped)


# An origin is scheme://host[:port], nothing after it; infra/template.yaml's AllowedPattern for CorsAllowOrigins says
# the same (tests/tools/test_template.py checks them against each other), so a bad value stops here, before any upload.
ORIGIN = re.compile(r"https?://[^,\s/]+")


def parameters(*, stage: str, cors_origin: str, allow_reset: str = "") -> str:
    """`Key=Value` pairs for `cloudformation deploy --parameter-overrides`."""
    origins = [origin.strip() for origin in cors_origin.split(",") if origin.strip()]
    if stage == "prod" and not (origins and all(origin.startswith("https://") for origin in origins)):
        raise DeployError(
            "make deploy STAGE=prod needs CORS_ORIGIN=https://<the portal's origin> (comma-separated"
            " if several): the origins whose pages may call the API"
        )
    if not origins:
        # The dev stage grants what the tests' dev stage grants: the portal's local frontend and Typing Tutor.
        origins = stage_environment(stage)["CORS_ALLOW_ORIGINS"].split(",")
    malformed = [origin for origin in origins if not (origin == "*" and stage != "prod" or ORIGIN.fullmatch(origin))]
    if malformed:
        raise DeployError(f"CORS_ORIGIN must list origins as scheme://host[:port], with no path: not {malformed[0]!r}")
    if allow_reset not in ("", "true", "false"):
        raise DeployError(f"ALLOW_RESET must be true or false, not {allow_reset!r}")
    # Only prod reads AllowReset (dev always allows the reset); unset, prod refuses it.
    return f"Stage={stage} CorsAllowOrigins={','.join(origins)} AllowReset={allow_reset or 'false'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    package_command = commands.add_parser("package")
    package_command.add_argument("--stage", required=True, choices=["dev", "prod"])
    package_command.add_argument("--build", required=True, type=Path)
    parameters_command = commands.add_parser("parameters")
    parameters_command.add_argument("--stage", required=True, choices=["dev", "prod"])
    parameters_command.add_argument("--cors-origin", default="")
    parameters_command.add_argument("--allow-reset", default="")
    args = parser.parse_args()
    try:
        if args.command == "package":
            print(package(stage=args.stage, build=args.build))
        else:
            print(parameters(stage=args.stage, cors_origin=args.cors_origin, allow_reset=args.allow_reset))
    except DeployError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
