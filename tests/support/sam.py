"""The SAM transform of a packaged template, as CloudFormation (and ministack, whose virtualenv holds the same
aws-sam-translator) runs it on deploy: in that virtualenv, since the tests' own has no samtranslator."""

import json
import os
import subprocess
from typing import Any

from scripts.local_stack import ROOT

SAM_PYTHON = ROOT / ".venv-ministack" / "bin" / "python"
_TRANSFORM = """
import json, sys
from samtranslator.translator.transform import transform

class NoManagedPolicies:  # the template names its one role's policies inline
    def load(self):
        return {}

print(json.dumps(transform(json.load(sys.stdin), {}, NoManagedPolicies())))
"""


def sam_translate(template: dict[str, Any]) -> dict[str, Any]:
    """The plain CloudFormation template SAM makes of a packaged one (its code as `cloudformation package` uploads
    it, to S3)."""
    uploaded = json.loads(json.dumps(template))
    uploaded["Resources"]["APIHandler"]["Properties"]["CodeUri"] = "s3://study-portal-artifacts/deployment.zip"
    result = subprocess.run(
        [str(SAM_PYTHON), "-c", _TRANSFORM],
        input=json.dumps(uploaded),
        capture_output=True,
        text=True,
        check=True,
        env={"AWS_DEFAULT_REGION": "eu-west-2", "PATH": "", "TMPDIR": os.environ.get("TMPDIR", "")},
    )
    translated: dict[str, Any] = json.loads(result.stdout)
    return translated
