"""Who a deployed stack answers, in ministack enforcing IAM and resource policies (AUTH=true): by default only
signed requests (`make proxy` signs the portal's), with ACCESS=ip only the allowed addresses, the reset only with
ALLOW_RESET=true, and no more requests than its throttle admits; the unchanged clients walk every page through
`make proxy`."""

import re
import shlex
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from e2e.conftest import ACCOUNT_SETUP, STAGE, VALID_BODY, Deployment, Emulator, post, send
from scripts.local_stack import ROOT
from tests.support.journey import walk_every_page

OTHER_STACK = "study-portal-e2e"  # a stack of this file's own, deployed and redeployed with other settings
PORTAL = {"Content-Type": "application/json", "Origin": "http://localhost:5173"}


def sessions(emulator: Emulator, table: str) -> set[str]:
    """The partition keys of the sessions the table holds (a consistent Scan: fine for a test table)."""
    pages = emulator.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return {
        item["PK"]["S"]
        for page in pages
        for item in page["Items"]
        if item["PK"]["S"].startswith("SESSION#") and item["SK"]["S"] == "META"
    }


@pytest.mark.parametrize(
    "method, path, body",
    [("POST", "/study_sessions", VALID_BODY), ("GET", "/groups", None), ("POST", "/api/study-sessions/reset", b"")],
)
def test_an_unsigned_request_to_a_stack_deployed_by_default_is_refused_and_changes_nothing(
    deployment: Deployment, method: str, path: str, body: bytes | None
) -> None:
    before = sessions(deployment.emulator, deployment.outputs["TableName"])
    answer = send(deployment.upstream_url, method, path, body=body, headers=PORTAL)
    # API Gateway's refusal, not the function's (which refuses the reset on this stack too).
    assert (answer.status, answer.headers.get("x-amzn-errortype")) == (403, "MissingAuthenticationTokenException")
    assert sessions(deployment.emulator, deployment.outputs["TableName"]) == before


@pytest.fixture(scope="module")
def other_stack(emulator: Emulator) -> Iterator[dict[str, str]]:
    """A second stack in the same emulator, deployed by default but with ALLOW_RESET=true, and seeded; each test
    redeploys it with every setting it needs."""
    outputs = emulator.deploy(OTHER_STACK, ALLOW_RESET="true")
    emulator.seed(OTHER_STACK)
    yield outputs
    emulator.destroy(OTHER_STACK)


def test_a_stack_deployed_with_the_defaults_throttles_each_method_at_10_a_second_with_bursts_of_20(
    emulator, other_stack
):
    stage = emulator.client("apigateway").get_stage(restApiId=other_stack["RestAPIId"], stageName="api")
    settings = stage["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (10.0, 20)


def test_the_unchanged_frontend_and_typing_tutor_walk_every_page_through_make_proxy(emulator, other_stack):
    with emulator.proxy(OTHER_STACK) as proxy_url:
        walk_every_page(
            port=int(proxy_url.rsplit(":", 1)[1]), dynamodb=emulator.client("dynamodb"), table=other_stack["TableName"]
        )
    assert sessions(emulator, other_stack["TableName"]) == set()  # the walk ends with the Settings page's reset


def test_access_ip_answers_only_the_allowed_ranges_and_a_changed_list_takes_effect_on_redeploy(emulator, other_stack):
    table = other_stack["TableName"]
    # ministack gives the API a new id when its policy changes: each deploy's own outputs name it.
    api_url = emulator.api_url(
        emulator.deploy(OTHER_STACK, ACCESS="ip", ALLOWED_IPS="203.0.113.0/24,10.0.0.0/8", ALLOW_RESET="true")
    )
    before = sessions(emulator, table)
    refused = post(api_url)
    assert refused.status == 403
    assert sessions(emulator, table) == before
    api_url = emulator.api_url(
        emulator.deploy(OTHER_STACK, ACCESS="ip", ALLOWED_IPS="127.0.0.1/32", ALLOW_RESET="true")
    )
    created = post(api_url)
    assert created.status == 201
    assert sessions(emulator, table) == before | {f"SESSION#{created.body['id']}"}


def test_a_throttle_of_1_and_1_admits_one_of_three_requests_sent_at_once(emulator, other_stack):
    table = other_stack["TableName"]
    outputs = emulator.deploy(
        OTHER_STACK, ACCESS="ip", ALLOWED_IPS="127.0.0.1/32", ALLOW_RESET="true", THROTTLE_RATE="1", THROTTLE_BURST="1"
    )
    api_url = emulator.api_url(outputs)
    before = sessions(emulator, table)
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: post(api_url), range(3)))
    assert sorted(answer.status for answer in answers) == [201, 429, 429]
    [created] = [answer.body for answer in answers if answer.status == 201]
    assert sessions(emulator, table) == before | {f"SESSION#{created['id']}"}


def test_answers_through_make_proxy_carry_the_security_headers_and_hsts_from_lambda(deployment):
    answer = send(deployment.base_url, "GET", "/health", headers={"Origin": PORTAL["Origin"]})
    assert (answer.status, answer.body) == (200, {"status": "ok"})
    assert (answer.headers["cache-control"], answer.headers["x-content-type-options"]) == ("no-store", "nosniff")
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert answer.headers["access-control-allow-origin"] == PORTAL["Origin"]


def test_the_docs_give_the_account_setting_this_run_made(emulator):
    page = (ROOT / "docs" / "operations.md").read_text()
    section = page.split("#### Access logs: a one-time account setting", 1)[1]
    [block] = re.findall(r"```sh\n(.*?)```", section.split("\n### ", 1)[0], flags=re.S)
    commands = [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    account = "arn:aws:iam::000000000000:"
    assert commands == [
        ["aws", *(word.replace(account, "arn:aws:iam::<account-id>:") for word in command)] for command in ACCOUNT_SETUP
    ]


def test_make_deploy_refuses_in_one_line_while_the_account_has_no_api_gateway_logging_role(emulator):
    apigateway = emulator.client("apigateway")
    role = apigateway.get_account()["cloudwatchRoleArn"]
    apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}])
    try:
        result = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "-C",
                str(ROOT),
                "deploy",
                f"STAGE={STAGE}",
                "STACK=study-portal-norole",
                "BUCKET=study-portal-artifacts",
                f"BUILD={emulator.work / 'norole'}",
            ],
            env=emulator.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert result.returncode != 0
    [line] = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert line.startswith("make deploy: the stage's access logs need the account's API Gateway CloudWatch role")
    assert not (emulator.work / "norole").exists()  # refused before packaging
    stacks = emulator.client("cloudformation").list_stacks()["StackSummaries"]
    assert "study-portal-norole" not in {stack["StackName"] for stack in stacks}
