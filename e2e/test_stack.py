"""The stack `make deploy` created in ministack: its resources, the role's exact permissions, the table, the stage,
and the API answering on both of ministack's URL forms."""

import copy
import json
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from chalicelib.store.table import TABLE_DEFINITION
from e2e.conftest import CONTRACT_BURST, CONTRACT_RATE, STACK, VALID_BODY, Deployment, post, send
from scripts.proxy import signed_request

EXPECTED_RESOURCES = {
    ("StudyTable", "AWS::DynamoDB::Table"),
    ("APIHandlerLogGroup", "AWS::Logs::LogGroup"),
    ("ApiHandlerRole", "AWS::IAM::Role"),
    ("APIHandler", "AWS::Lambda::Function"),
    ("APIHandlerInvokePermission", "AWS::Lambda::Permission"),
    ("RestAPI", "AWS::ApiGateway::RestApi"),
    ("RestAPIapiStage", "AWS::ApiGateway::Stage"),
    ("ApiAccessLogGroup", "AWS::Logs::LogGroup"),
    ("AlarmTopic", "AWS::SNS::Topic"),  # no AlarmSubscription: this deploy names no ALARM_EMAIL
    ("Api5xxAlarm", "AWS::CloudWatch::Alarm"),
    ("LambdaErrorsAlarm", "AWS::CloudWatch::Alarm"),
    ("LambdaThrottlesAlarm", "AWS::CloudWatch::Alarm"),
    ("DynamoDBReadThrottlesAlarm", "AWS::CloudWatch::Alarm"),
    ("DynamoDBWriteThrottlesAlarm", "AWS::CloudWatch::Alarm"),
}


def physical_id(deployment: Deployment, logical_id: str) -> str:
    cloudformation = deployment.client("cloudformation")
    resource = cloudformation.describe_stack_resource(StackName=STACK, LogicalResourceId=logical_id)
    return resource["StackResourceDetail"]["PhysicalResourceId"]


def test_the_stack_holds_the_table_log_group_role_function_and_api(deployment):
    resources = deployment.client("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]
    found = {(r["LogicalResourceId"], r["ResourceType"]) for r in resources}
    # SAM names the deployment after a hash of the API definition: only its type is fixed.
    assert [r["ResourceType"] for r in resources if r["LogicalResourceId"].startswith("RestAPIDeployment")] == [
        "AWS::ApiGateway::Deployment"
    ]
    assert {entry for entry in found if not entry[0].startswith("RestAPIDeployment")} == EXPECTED_RESOURCES
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources)


def test_the_function_reads_its_table_name_from_the_stack_and_runs_as_its_role(deployment):
    config = deployment.client("lambda").get_function_configuration(FunctionName=deployment.outputs["APIHandlerName"])
    assert (
        config["Environment"]["Variables"]["TABLE_NAME"]
        == deployment.outputs["TableName"]
        == physical_id(deployment, "StudyTable")
    )
    assert config["Role"].endswith(f":role/{physical_id(deployment, 'ApiHandlerRole')}")
    assert (config["Runtime"], config["Handler"], config["Timeout"]) == ("python3.11", "app.app", 28)


def test_the_role_grants_exactly_the_dynamodb_calls_on_the_table_and_writes_to_its_log_group(deployment):
    iam = deployment.client("iam")
    role = physical_id(deployment, "ApiHandlerRole")
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    statements = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]["Statement"]
    table_arn = deployment.client("dynamodb").describe_table(TableName=deployment.outputs["TableName"])["Table"][
        "TableArn"
    ]
    [log_group] = deployment.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{deployment.outputs['APIHandlerName']}"
    )["logGroups"]
    assert sorted(
        (
            s["Effect"],
            sorted(s["Action"]),
            sorted(s["Resource"]) if isinstance(s["Resource"], list) else [s["Resource"]],
        )
        for s in statements
    ) == sorted(
        [
            (
                "Allow",
                [
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:Query",
                    "dynamodb:UpdateItem",
                ],
                [table_arn, f"{table_arn}/index/*"],
            ),
            ("Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], [log_group["arn"]]),
        ]
    )
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }


def test_the_log_group_keeps_14_days_and_receives_the_functions_json_access_lines(deployment):
    logs = deployment.client("logs")
    group = f"/aws/lambda/{deployment.outputs['APIHandlerName']}"
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == 14
    lines = [
        json.loads(event["message"])
        for event in logs.filter_log_events(logGroupName=group)["events"]
        if event["message"].startswith("{")
    ]
    assert any(
        line["message"] == "request" and line["status"] == 201 and line["dynamodb_requests"] == 2 for line in lines
    )


def test_the_table_has_the_keys_and_indexes_the_code_uses_on_demand_without_deletion_protection_in_dev(deployment):
    table = deployment.client("dynamodb").describe_table(TableName=deployment.outputs["TableName"])["Table"]
    assert table["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(TABLE_DEFINITION["AttributeDefinitions"], key=str)

    def indexes(definition: dict) -> dict:
        return {
            index["IndexName"]: (index["KeySchema"], index["Projection"])
            for index in definition["GlobalSecondaryIndexes"]
        }

    assert indexes(table) == indexes(TABLE_DEFINITION)
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is False


def test_the_stage_throttles_every_method_as_make_deploy_was_told(deployment):
    stage = deployment.client("apigateway").get_stage(restApiId=deployment.outputs["RestAPIId"], stageName="api")
    settings = stage["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (CONTRACT_RATE, CONTRACT_BURST)


def test_the_alarms_watch_the_stacks_api_function_and_table_and_tell_its_topic(deployment):
    alarms = deployment.client("cloudwatch").describe_alarms()["MetricAlarms"]
    ours = {
        alarm["MetricName"]: alarm for alarm in alarms if alarm["AlarmActions"] == [deployment.outputs["AlarmTopicArn"]]
    }
    assert set(ours) == {"5XXError", "Errors", "Throttles", "ReadThrottleEvents", "WriteThrottleEvents"}
    dimensions = {name: {d["Name"]: d["Value"] for d in alarm["Dimensions"]} for name, alarm in ours.items()}
    assert dimensions["5XXError"] == {"ApiName": STACK, "Stage": "api"}
    assert dimensions["Errors"] == dimensions["Throttles"] == {"FunctionName": deployment.outputs["APIHandlerName"]}
    assert dimensions["ReadThrottleEvents"] == {"TableName": deployment.outputs["TableName"]}
    assert deployment.client("apigateway").get_rest_api(restApiId=deployment.outputs["RestAPIId"])["name"] == STACK


def test_the_api_answers_on_the_execute_api_host_form_too(deployment):
    # http://{api_id}.execute-api.localhost:PORT/{stage}/...: resolvers here do not map *.localhost to loopback,
    # so the request goes to 127.0.0.1 with that Host header, as a browser resolving it would send; signed for that
    # host, as AWS_IAM needs.
    host = f"{deployment.outputs['RestAPIId']}.execute-api.localhost:{deployment.port}"
    request = signed_request(
        method="POST",
        url=f"http://{host}/api/study_sessions",
        headers={"Content-Type": "application/json"},
        body=VALID_BODY,
        credentials=Credentials("test", "test"),
        region="us-east-1",
    )
    answer = send(
        f"http://127.0.0.1:{deployment.port}",
        "POST",
        "/api/study_sessions",
        body=VALID_BODY,
        headers={"Host": host, **dict(request.headers.items())},
    )
    assert answer.status == 201
    assert answer.headers["location"] == f"/api/study_sessions/{answer.body['id']}"
    key = {"PK": {"S": f"SESSION#{answer.body['id']}"}, "SK": {"S": "META"}}
    item = deployment.client("dynamodb").get_item(TableName=deployment.outputs["TableName"], Key=key)
    assert item["Item"]["group_name"] == {"S": "Core Verbs"}


def test_the_api_definition_cloudformation_deployed_carries_the_gateway_error_responses(deployment):
    # ministack 1.5.33 does not serve these (make proxy answers an unknown route in their place), so this checks
    # what it was given: the API body after the SAM transform, as CloudFormation processed it.
    processed = deployment.client("cloudformation").get_template(StackName=STACK, TemplateStage="Processed")
    body = processed["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    responses = template["Resources"]["RestAPI"]["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == {
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "MISSING_AUTHENTICATION_TOKEN",
        "ACCESS_DENIED",
        "THROTTLED",
    }
    for response in responses.values():
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "method.request.header.Origin"
        assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
    for default in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert responses[default]["responseTemplates"]["application/json"] == '{"error": $context.error.messageString}'
    # Behind AWS_IAM an unsigned request gets this response: a 403 that says to sign.
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "403"
    assert "SigV4" in responses["MISSING_AUTHENTICATION_TOKEN"]["responseTemplates"]["application/json"]
    assert responses["THROTTLED"]["responseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def as_the_functions_role(deployment: Deployment) -> Any:
    """A DynamoDB client with the role's credentials (STS AssumeRole): ministack, under AUTH=true, checks its calls
    against the role's policy, as it does the Lambda's."""
    role_arn = deployment.client("iam").get_role(RoleName=physical_id(deployment, "ApiHandlerRole"))["Role"]["Arn"]
    credentials = deployment.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="e2e")["Credentials"]
    return boto3.client(
        "dynamodb",
        endpoint_url=deployment.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


GROUP_1 = {"PK": {"S": "GROUP#1"}, "SK": {"S": "META"}}


def test_the_functions_role_may_call_what_the_app_calls_on_its_table_and_nothing_else(deployment):
    dynamodb = as_the_functions_role(deployment)
    table = deployment.outputs["TableName"]
    assert dynamodb.batch_get_item(RequestItems={table: {"Keys": [GROUP_1]}})["Responses"][table]
    assert dynamodb.get_item(TableName=table, Key=GROUP_1)["Item"]["name"] == {"S": "Core Verbs"}
    assert dynamodb.query(
        TableName=table,
        IndexName="GSI2",
        KeyConditionExpression="GSI2PK = :p",
        ExpressionAttributeValues={":p": {"S": "GROUP"}},
    )["Items"]
    # Allowed, and refused only by their conditions: the group exists, so nothing is written.
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=table, Item=GROUP_1, ConditionExpression="attribute_not_exists(PK)")
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=table,
            Key=GROUP_1,
            UpdateExpression="SET x = :x",
            ConditionExpression="attribute_not_exists(PK)",
            ExpressionAttributeValues={":x": {"S": "x"}},
        )
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.delete_item(TableName=table, Key=GROUP_1, ConditionExpression="attribute_not_exists(PK)")
    denied = {
        "Scan": lambda: dynamodb.scan(TableName=table, Limit=1),
        "Scan of an index": lambda: dynamodb.scan(TableName=table, IndexName="GSI2", Limit=1),
        "ConditionCheck in a transaction": lambda: dynamodb.transact_write_items(
            TransactItems=[
                {"ConditionCheck": {"TableName": table, "Key": GROUP_1, "ConditionExpression": "attribute_exists(PK)"}}
            ]
        ),
        "ListTables": lambda: dynamodb.list_tables(),
        "DeleteTable": lambda: dynamodb.delete_table(TableName=table),
    }
    for what, call in denied.items():
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "AccessDeniedException", what
    assert deployment.client("dynamodb").get_item(TableName=table, Key=GROUP_1)["Item"]["name"] == {"S": "Core Verbs"}


def test_the_function_calls_dynamodb_as_its_role(deployment):
    # Take PutItem away from the role: the next create must fail at DynamoDB, so the Lambda runs under the role.
    iam = deployment.client("iam")
    role = physical_id(deployment, "ApiHandlerRole")
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    reduced = copy.deepcopy(document)
    for statement in reduced["Statement"]:
        if "dynamodb:PutItem" in statement["Action"]:
            statement["Action"] = ["dynamodb:BatchGetItem"]
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(reduced))
    try:
        before = deployment.client("dynamodb").scan(TableName=deployment.outputs["TableName"], Select="COUNT")
        answer = post(deployment.base_url)
        assert answer.status == 500 and answer.body["error"] == "Internal server error"
        assert "AccessDenied" not in json.dumps(answer.body)
        after = deployment.client("dynamodb").scan(TableName=deployment.outputs["TableName"], Select="COUNT")
        assert after["Count"] == before["Count"]
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    assert post(deployment.base_url).status == 201
