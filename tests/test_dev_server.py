"""`make dev` for real: ministack and `chalice local` over HTTP on loopback, stopped and restarted."""
import json
import urllib.error
import urllib.request

from scripts.dev import start_dev_server, stop_dev_server
from scripts.local_stack import dynamodb_client, free_port, port_in_use


def post(port: int, body: bytes, content_type: str = "application/json") -> tuple[int, dict, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/study_sessions", data=body, method="POST",
                                     headers={"Content-Type": content_type, "Origin": "http://localhost:5173"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_make_dev_serves_the_contract_stops_on_ctrl_c_and_keeps_data_across_restarts(dev_project, tmp_path):
    project_dir, ministack_port = dev_project
    port = free_port()
    log_path = tmp_path / "dev.log"
    dev = start_dev_server(project_dir=project_dir, port=port, log_path=log_path)
    try:
        status, headers, created = post(port, b'{"group_id": 1, "study_activity_id": 1}')
        assert status == 201 and created["group_name"] == "Core Verbs"
        assert headers["Location"] == f"/study_sessions/{created['id']}"
        assert headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
        assert post(port, b'{"group_id": true, "study_activity_id": 1}')[:1] == (400,)
        assert post(port, b'{"group_id": 1, ')[2] == {"error": "Request body is not valid JSON"}
        assert post(port, b'{"group_id": 404, "study_activity_id": 1}')[2] == {"error": "Group 404 not found"}
        assert post(port, b"{}", "text/plain")[0] == 415
    finally:
        stop_dev_server(dev)
    output = log_path.read_text()
    assert dev.returncode == 0, output
    assert "stopped chalice local and ministack" in output
    assert not port_in_use(port) and not port_in_use(ministack_port)

    dev = start_dev_server(project_dir=project_dir, port=port, log_path=log_path)
    try:
        table = json.loads((project_dir / ".chalice" / "config.json").read_text())[
            "stages"]["local"]["environment_variables"]["TABLE_NAME"]
        client = dynamodb_client(f"http://127.0.0.1:{ministack_port}")
        item = client.get_item(TableName=table, Key={"PK": {"S": f"SESSION#{created['id']}"}, "SK": {"S": "META"}})
        assert item["Item"]["group_name"] == {"S": "Core Verbs"}
        assert post(port, b'{"group_id": 2, "study_activity_id": 1}')[0] == 201
    finally:
        stop_dev_server(dev)
    assert not port_in_use(port) and not port_in_use(ministack_port)
