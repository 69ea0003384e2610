"""Keeping the caller's AWS settings out of what runs locally: `make dev`, `make bench`, `make costs`, the tests and
e2e talk to emulators only, with placeholder credentials, whatever profile, endpoint or region the shell has.
Tools that do call AWS (`make seed-stack`, `make import STACK=`, `make reset STACK=`) use the caller's settings, and
only when a stack is named on the command line: their clients come from caller_client."""

import os
from collections.abc import Mapping, MutableMapping
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"


class RegionMissingError(Exception):
    """The caller's AWS settings name no region; the message says what to set."""


def caller_region() -> str:
    """The caller's region as the newer AWS SDKs and the AWS CLI find it: AWS_REGION, then AWS_DEFAULT_REGION, then
    the profile's `region` (AWS_PROFILE's, in AWS_CONFIG_FILE). boto3 1.x reads only the last two."""
    # botocore's default session resolves AWS_DEFAULT_REGION and the profile's region (AWS_PROFILE, config file).
    region = os.environ.get("AWS_REGION") or boto3._get_default_session().region_name
    if not region:
        raise RegionMissingError(
            "no AWS region is set: set AWS_REGION (e.g. AWS_REGION=eu-central-1), or a region in your AWS profile"
        )
    return str(region)


def caller_client(service: str, *, config: Config | None = None) -> Any:
    """A client of one AWS service with the caller's settings (profile, credentials, endpoint) and caller_region's
    region; a RegionMissingError, before any request, if none is set."""
    # The default session, so a profile's settings and event handlers registered on it apply to the client.
    return boto3.client(service, region_name=caller_region(), config=config)


def is_caller_aws(name: str) -> bool:
    """Whether an environment variable is one of the caller's AWS settings: every AWS_ variable (profile,
    credentials, endpoints, region, config files, and retry modes or CA bundles that would change a local run)."""
    return name.startswith("AWS_")


def placeholder_aws(*, credentials: str = "local", config_file: str = os.devnull) -> dict[str, str]:
    """Credentials the emulators accept (ministack's root is "test"), a fixed region, and no config or credentials
    file of the caller's."""
    return {
        "AWS_ACCESS_KEY_ID": credentials,
        "AWS_SECRET_ACCESS_KEY": credentials,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": config_file,
        "AWS_SHARED_CREDENTIALS_FILE": config_file,
    }


def scrubbed_environment(
    base: Mapping[str, str] | None = None, *, credentials: str = "local", **extra: str
) -> dict[str, str]:
    """An environment for a local process: `base` (this process's, by default) without the caller's AWS settings,
    with placeholder ones, and `extra` on top."""
    kept = {name: value for name, value in (os.environ if base is None else base).items() if not is_caller_aws(name)}
    return {**kept, **placeholder_aws(credentials=credentials), **extra}


def isolate_aws(environ: MutableMapping[str, str] = os.environ, **extra: str) -> None:
    """Make this process's own environment scrubbed_environment's, in place (for tools that build clients here)."""
    for name in [name for name in environ if is_caller_aws(name)]:
        del environ[name]
    environ.update({**placeholder_aws(), **extra})
