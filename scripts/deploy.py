"""Deployment helpers for the Makefile.

`package`: `chalice package` of a clean copy of the app (no __pycache__, no local build caches), merged with
infra/template.yaml, given the access mode's API settings (`secure`), its zip given bytecode compiled from its own
sources; reporting one line. `parameters`: the stack parameters `make deploy` passes, refusing a prod deploy without
explicit https origins for CORS, or open to anyone without PUBLIC=true."""

import argparse
import importlib.util
import ipaddress
import marshal
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

from scripts.local_stack import ROOT, stage_environment

APP_FILES = ("app.py", "requirements.txt", "chalicelib", ".chalice/config.json")
CHALICE = Path(sys.executable).parent / "chalice"


class DeployError(Exception):
    """The deployment cannot go ahead; the message says why, in one line."""


def package(*, stage: str, build: Path, access: str = "iam") -> str:
    """Write build/sam.yaml and build/deployment.zip for the stage and access mode; say what was written."""
    check_access(access)
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
            # chalice package imports the app: bytecode it wrote into the copy would reach the zip beside ours.
            env={"AWS_DEFAULT_REGION": "us-east-1", **os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    if result.returncode != 0:
        raise DeployError(f"chalice package failed:\n{result.stdout}{result.stderr}")
    template_path = build / "sam.yaml"
    template_path.write_text(yaml.safe_dump(secure(yaml.safe_load(template_path.read_text()), access=access)))
    zipped = build / "deployment.zip"
    add_bytecode(zipped)
    with zipfile.ZipFile(zipped) as archive:
        files = len(archive.namelist())
    return (
        f"make package: {build}/sam.yaml and {zipped.name} ({zipped.stat().st_size / 1024:.0f} KB, {files} files)"
        f" for stage {stage}, access {access}"
    )


ACCESS_MODES = ("iam", "ip", "public")
# The swagger security scheme API Gateway reads as AWS_IAM on a method (what Chalice writes for an IAMAuthorizer).
SIGV4 = {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}
# A comma-separated list of IPv4 or IPv6 ranges (scripts/deploy.py checks each one; this only keeps junk out).
ALLOWED_IPS_PATTERN = r"^[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*$"


def check_access(access: str) -> None:
    if access not in ACCESS_MODES:
        raise DeployError(f"ACCESS must be one of {', '.join(ACCESS_MODES)}, not {access!r}")


def secure(template: dict[str, Any], *, access: str) -> dict[str, Any]:
    """The packaged template with the access mode's API settings: `iam` puts AWS_IAM (a SigV4 signature) on every
    method, preflights included; `ip` adds a resource policy that denies every address outside the AllowedIps
    parameter; `public` leaves every route anonymous."""
    api = template["Resources"]["RestAPI"]["Properties"]
    # Behind AWS_IAM, API Gateway answers an unsigned request this way, and an unknown path too: it cannot say 404.
    api["GatewayResponses"]["MISSING_AUTHENTICATION_TOKEN"] = {
        "StatusCode": "403" if access == "iam" else "404",
        "ResponseParameters": api["GatewayResponses"]["DEFAULT_4XX"]["ResponseParameters"],
        "ResponseTemplates": {
            "application/json": '{"error": "Forbidden: requests must be signed with AWS SigV4 (make proxy signs'
            " the portal's), to a route of this API\"}"
            if access == "iam"
            else '{"error": "Not found"}'
        },
    }
    if access == "iam":
        body = api["DefinitionBody"]
        body["securityDefinitions"] = {"sigv4": SIGV4}
        for operations in body["paths"].values():
            for operation in operations.values():
                operation["security"] = [{"sigv4": []}]
    elif access == "ip":
        template["Parameters"]["AllowedIps"] = {
            "Type": "String",
            "AllowedPattern": ALLOWED_IPS_PATTERN,
            "Description": "The address ranges (CIDR, comma-separated) the API answers; every other gets 403.",
        }
        invoke = {"Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
        # The Policy property, not x-amazon-apigateway-policy in the body (ministack enforces only this one), and a
        # !Split of a String parameter (ministack reads a !Join of an empty list as deny-all).
        api["Policy"] = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", **invoke},
                {
                    "Effect": "Deny",
                    **invoke,
                    "Condition": {"NotIpAddress": {"aws:SourceIp": {"Fn::Split": [",", {"Ref": "AllowedIps"}]}}},
                },
            ],
        }
    return template


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


def parameters(
    *,
    stage: str,
    cors_origin: str,
    allow_reset: str = "",
    access: str = "iam",
    allowed_ips: str = "",
    public: str = "",
    throttle_rate: str = "",
    throttle_burst: str = "",
    alarm_email: str = "",
) -> str:
    """`Key=Value` pairs for `cloudformation deploy --parameter-overrides`: every parameter, so a redeploy never
    keeps an earlier deploy's value (the CLI reuses a stack's values for parameters it is not given)."""
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
    for name, value in (("ALLOW_RESET", allow_reset), ("PUBLIC", public)):
        if value not in ("", "true", "false"):
            raise DeployError(f"{name} must be true or false, not {value!r}")
    values = {
        "Stage": stage,
        "CorsAllowOrigins": ",".join(origins),
        "AllowReset": allow_reset or "false",
        "ThrottlingRateLimit": positive("THROTTLE_RATE", throttle_rate, default=10),
        "ThrottlingBurstLimit": positive("THROTTLE_BURST", throttle_burst, default=20),
        "AlarmEmail": alarm_email,
    }
    if alarm_email and not re.fullmatch(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+", alarm_email):
        raise DeployError(f"ALARM_EMAIL must be one e-mail address, not {alarm_email!r}")
    check_access(access)
    if access == "ip":
        values["AllowedIps"] = ip_ranges(allowed_ips)
    elif allowed_ips:
        raise DeployError(f"ALLOWED_IPS applies only with ACCESS=ip (this deploy is ACCESS={access})")
    if access == "public" and stage == "prod" and public != "true":
        raise DeployError(
            "make deploy STAGE=prod ACCESS=public needs PUBLIC=true: anyone who finds the URL could then write"
            " the learner's history; the default ACCESS=iam with `make proxy` keeps the portal working"
        )
    return " ".join(f"{key}={value}" for key, value in values.items())


def positive(name: str, value: str, *, default: int) -> str:
    """A make variable that must be a whole number of at least 1 (the default when empty)."""
    if not value:
        return str(default)
    if not (value.isascii() and value.isdigit() and int(value) >= 1):
        raise DeployError(f"{name} must be a whole number of at least 1, not {value!r}")
    return str(int(value))


def ip_ranges(allowed_ips: str) -> str:
    """ALLOWED_IPS as the AllowedIps parameter: each range in CIDR form (a bare address is its /32 or /128)."""
    entries = [entry.strip() for entry in allowed_ips.split(",") if entry.strip()]
    if not entries:
        raise DeployError("ACCESS=ip needs ALLOWED_IPS=<ranges it answers, e.g. 203.0.113.7/32,198.51.100.0/24>")
    ranges = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry)
        except ValueError:
            raise DeployError(
                f"ALLOWED_IPS must list address ranges such as 203.0.113.7/32, not {entry!r}"
                " (an address with host bits set needs /32, or its network's own address)"
            ) from None
        if network.prefixlen == 0:
            raise DeployError(
                f"ALLOWED_IPS={entry} is every address: say ACCESS=public for that (on prod, with PUBLIC=true)"
            )
        ranges.append(str(network))
    return ",".join(ranges)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    package_command = commands.add_parser("package")
    package_command.add_argument("--stage", required=True, choices=["dev", "prod"])
    package_command.add_argument("--build", required=True, type=Path)
    package_command.add_argument("--access", default="iam")
    parameters_command = commands.add_parser("parameters")
    parameters_command.add_argument("--stage", required=True, choices=["dev", "prod"])
    for option in ("cors-origin", "allow-reset", "allowed-ips", "public", "throttle-rate", "throttle-burst"):
        parameters_command.add_argument(f"--{option}", default="")
    parameters_command.add_argument("--alarm-email", default="")
    parameters_command.add_argument("--access", default="iam")
    args = parser.parse_args()
    try:
        if args.command == "package":
            print(package(stage=args.stage, build=args.build, access=args.access))
        else:
            print(parameters(**{name: value for name, value in vars(args).items() if name != "command"}))
    except DeployError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
