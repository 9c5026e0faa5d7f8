"""docs/iam-policy.json, the controller's least-privilege policy: valid, every statement explained in
docs/iam-policy.md, every action a real one, and every AWS operation the collection's own plugins call
allowed by some statement (found by reading plugins/, not from a list kept by hand)."""

import ast
import fnmatch
import json
import re
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
POLICY = json.loads((ROOT / "docs" / "iam-policy.json").read_text())
DOC = (ROOT / "docs" / "iam-policy.md").read_text()
PLUGINS = ROOT / "plugins"
SESSION = botocore.session.get_session()
# Actions that are permissions only, with no API operation of that name (Service Authorization Reference).
PERMISSION_ONLY = {"iam:PassRole", "ds:AccessDSData"}
# STS API reference: GetCallerIdentity needs no permission, and an explicit deny does not stop it.
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
CLIENT = re.compile(r"""(?:\.client|get_client)\(\s*["']([a-z0-9-]+)["']""")
# An operation is named by an attribute (client.describe_db_clusters, jittered_backoff()(ec2.create_route)),
# a string (get_paginator("describe_trusts"), self._write("create_user")), or an amazon.aws helper imported by name.
NAMES = re.compile(r"""\.([a-z][a-z0-9_]+)\b|["']([a-z][a-z0-9_]+)["']""")
AMAZON_AWS = re.compile(r"from ansible_collections\.amazon\.aws\.plugins\.module_utils\.(\w+) import (\w+)")
# In amazon.aws's helpers only calls count (their docstrings show other operations in examples).
HELPER_CALLS = re.compile(r"""get_paginator\(\s*["']([a-z][a-z0-9_]+)"""
                          r"""|(?:client|connection)\.(?!get_paginator)([a-z][a-z0-9_]+)\(""")
OWN_UTILS = re.compile(r"from ansible_collections\.aurora\.kerberos\.plugins\.module_utils\.(\w+) import")


def operations(service):
    return {xform_name(name): name for name in SESSION.get_service_model(service).operation_names}


def amazon_aws_helper_names(util, helper):
    """The operation names an amazon.aws module_utils helper uses (its function body)."""
    import ansible_collections.amazon.aws.plugins.module_utils as package

    source = (Path(package.__path__[0]) / f"{util}.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == helper:
            return {a or b for a, b in HELPER_CALLS.findall(ast.get_source_segment(source, node))}
    return set()


def called_operations():
    """{(service, Operation): [files]} for every AWS operation a plugin of this collection calls."""
    files = sorted(PLUGINS.rglob("*.py"))
    texts = {f: f.read_text() for f in files}
    own = {f: set(CLIENT.findall(t)) for f, t in texts.items()}
    services = set().union(*own.values())
    imports = {f: {PLUGINS / "module_utils" / f"{u}.py" for u in OWN_UTILS.findall(t)} for f, t in texts.items()}

    def down(f, seen=()):
        """The clients a file makes, or the module_utils it imports make (transitively)."""
        return own.get(f, set()).union(*(down(u, seen + (f,)) for u in imports.get(f, ()) if u not in seen))

    # A file works with its own clients and, for a module_utils file, those of the plugins that import it.
    context = {f: down(f).union(*(down(g) for g in files if f in imports[g])) for f in files}
    ops = {service: operations(service) for service in services}
    found = {}
    for f, t in texts.items():
        names = {a or b for a, b in NAMES.findall(t)}
        for util, helper in AMAZON_AWS.findall(t):
            names |= amazon_aws_helper_names(util, helper)
        for name in names:
            candidates = {s for s in services if name in ops[s]}
            if len(candidates) > 1 and context[f] & candidates:
                candidates &= context[f]  # still several: every one must be allowed
            for service in candidates:
                found.setdefault((service, ops[service][name]), []).append(str(f.relative_to(ROOT)))
    return found


def allowed(action):
    return any(statement["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action.lower(), pattern.lower())
                                                      for pattern in statement["Action"])
               for statement in POLICY["Statement"])


def test_the_policy_is_an_iam_policy_of_named_allow_statements():
    assert POLICY["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in POLICY["Statement"]]
    assert len(sids) == len(set(sids)) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), sids
    for statement in POLICY["Statement"]:
        assert set(statement) == {"Sid", "Effect", "Action", "Resource"}, statement["Sid"]
        assert statement["Effect"] == "Allow"
        assert len(statement["Action"]) == len(set(statement["Action"])), statement["Sid"]
    # IAM's quota for a managed policy: 6,144 characters, white space not counted.
    assert len(json.dumps(POLICY, separators=(",", ":"))) <= 6144


def test_every_statement_is_explained_in_the_doc_and_the_doc_names_no_other():
    sids = [s["Sid"] for s in POLICY["Statement"]]
    documented = re.findall(r"^### `(\w+)`", DOC, re.M)
    assert documented == sids


@pytest.mark.parametrize("statement", POLICY["Statement"], ids=lambda s: s["Sid"])
def test_every_action_is_an_operation_of_its_service(statement):
    prefixes = {"ds": "ds", "ds-data": "ds-data", "rds": "rds", "iam": "iam", "ec2": "ec2", "sts": "sts",
                "secretsmanager": "secretsmanager", "kms": "kms", "ssm": "ssm"}
    for action in statement["Action"]:
        prefix, dummy, name = action.partition(":")
        assert action in PERMISSION_ONLY or name in operations(prefixes[prefix]).values(), action


def test_the_scan_finds_the_calls_it_must():
    """The scan itself: calls written each way the plugins write them."""
    found = called_operations()
    for call in [("rds", "ModifyDBCluster"), ("ds", "CreateMicrosoftAD"), ("ec2", "AuthorizeSecurityGroupIngress"),
                 ("ds-data", "CreateUser"), ("ds", "DescribeTrusts"), ("ec2", "DescribeSubnets"),
                 ("iam", "GetRole"), ("secretsmanager", "GetSecretValue"), ("rds", "DescribeDBClusterParameters"),
                 ("ssm", "PutParameter")]:
        assert call in found, call
    assert ("iam", "CreateUser") not in found, "ad_user's create_user is ds-data's"


def test_every_operation_the_plugins_call_is_allowed():
    missing = {f"{service}:{operation}": files for (service, operation), files in called_operations().items()
               if f"{service}:{operation}" not in NO_PERMISSION_NEEDED and not allowed(f"{service}:{operation}")}
    assert missing == {}
