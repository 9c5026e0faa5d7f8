"""IAM authorization of the calls an IAM user signs (IAM user guide, "Policy evaluation logic").

moto 5.2.5 answers every call whatever the keys. The lab does what AWS does for a request signed with the
access key of an IAM user that the lab's IAM knows (moto's iam backend: CreateUser, CreateAccessKey,
AttachUserPolicy, PutUserPolicy, groups): the call is allowed only when one of that user's policies allows
its action on its resource and none denies it. Any other key (the lab's default keys, `fake`, a role's session
credentials) stays all-powerful, as before. lab/README.md, "IAM authorization", cites each rule.

  action     <service prefix>:<operation>, the prefix of the Service Authorization Reference (ds-data, ds,
             rds, iam, sts, ec2, secretsmanager: each the same as the signing name)
  resources  the ARNs the reference lists for the operation where the call names them (rds clusters,
             instances, cluster parameter groups, subnet groups, cluster snapshots, tagged resources; IAM
             roles and users; ds directories, for ds and ds-data; Secrets Manager secrets; SSM parameters), "*" otherwise
             (every ec2 and sts call, list and describe calls that name nothing, CreateMicrosoftAD).
             Every resource must be allowed; the first refused one is named.
  evaluation an explicit Deny wins, else an Allow, else the implicit deny. Action and Resource take the
             `*` and `?` wildcards (actions case-insensitively). Condition, NotAction and NotResource are
             not evaluated: a statement carrying one never allows, and a Deny carrying one denies whatever
             its Action and Resource match, so the lab never allows what AWS might refuse.
  refusal    AWS's wording, "User: <arn> is not authorized to perform: <action> on resource: <arn>
             because no identity-based policy allows the <action> action" ("... with an explicit deny in
             an identity-based policy"), without "on resource" for "*"; AccessDenied HTTP 403 for the
             query services (iam, rds, sts), UnauthorizedOperation 403 for ec2 (its message starts "You are
             not authorized to perform this operation."), AccessDeniedException 400 for the JSON services
             (ds, secretsmanager), and ds-data's AccessDeniedException 403 with Reason IAM_AUTH.
"""

import fnmatch
import json
import re
import uuid
from urllib.parse import parse_qs, unquote

_ACCESS_KEY = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/")
# Service Authorization Reference: the prefix of each service the collection calls (its signing name).
PREFIXES = {"ds-data": "ds-data", "ds": "ds", "rds": "rds", "iam": "iam", "sts": "sts", "ec2": "ec2",
            "secretsmanager": "secretsmanager", "ssm": "ssm"}
UNSUPPORTED = ("Condition", "NotAction", "NotResource", "NotPrincipal")
# STS API reference, GetCallerIdentity: "No permissions are required to perform this operation", even when a
# policy explicitly denies sts:GetCallerIdentity.
NO_PERMISSION_NEEDED = frozenset(("sts:GetCallerIdentity",))

# rds: the parameter that names each resource type, in the order the operation's own type comes first.
_RDS_TYPES = (("DBInstanceIdentifier", "db"), ("DBClusterIdentifier", "cluster"),
              ("DBClusterParameterGroupName", "cluster-pg"), ("DBSubnetGroupName", "subgrp"),
              ("DBClusterSnapshotIdentifier", "cluster-snapshot"), ("FinalDBSnapshotIdentifier", "cluster-snapshot"))
_RDS_OWN = (("DBInstance", "DBInstanceIdentifier"), ("DBClusterParameter", "DBClusterParameterGroupName"),
            ("DBClusterSnapshot", "DBClusterSnapshotIdentifier"), ("DBSubnetGroup", "DBSubnetGroupName"),
            ("DBCluster", "DBClusterIdentifier"))
# Resources the reference lists besides the operation's own, where the call names them [docs; the subnet
# group of CreateDBCluster as refused in mattclay/aws-terminator#265].
_RDS_ALSO = {"CreateDBCluster": ("DBSubnetGroupName", "DBClusterParameterGroupName"),
             "ModifyDBCluster": ("DBClusterParameterGroupName",),
             "CreateDBInstance": ("DBSubnetGroupName",),
             "DeleteDBCluster": ("FinalDBSnapshotIdentifier",)}


# --- policy evaluation (pure) -----------------------------------------------------------------------------

def _listed(value):
    if value is None:
        return []
    return [value] if isinstance(value, (str, dict)) else list(value)  # one statement may stand alone


def _matches(pattern, value, fold=False):
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _statement_matches(statement, action, resource):
    actions = _listed(statement.get("Action")) or (["*"] if "NotAction" in statement else [])
    resources = _listed(statement.get("Resource")) or (["*"] if "NotResource" in statement else [])
    return (any(_matches(p, action, fold=True) for p in actions)
            and any(_matches(p, resource) for p in resources))


def decide(documents, action, resource):
    """'allow', 'deny' (an explicit Deny) or 'implicit' for one action on one resource."""
    allowed = False
    for document in documents:
        for statement in _listed(document.get("Statement")):
            if not _statement_matches(statement, action, resource):
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            if statement.get("Effect") == "Allow" and not any(key in statement for key in UNSUPPORTED):
                allowed = True
    return "allow" if allowed else "implicit"


def refusal(documents, action, resources):
    """(the refused resource, 'deny' | 'implicit'), or None when every resource is allowed."""
    for resource in resources:
        verdict = decide(documents, action, resource)
        if verdict != "allow":
            return resource, verdict
    return None


def message(user_arn, action, resource, verdict):
    on = "" if resource == "*" else f" on resource: {resource}"
    why = ("with an explicit deny in an identity-based policy" if verdict == "deny"
           else f"because no identity-based policy allows the {action} action")
    return f"User: {user_arn} is not authorized to perform: {action}{on} {why}"


# --- who signed, and what the call names --------------------------------------------------------------------

def _directory_of_trust(trust_id, region, account):
    """The id of the directory that holds trust_id in the lab's ds backend, or None."""
    if not trust_id:
        return None
    from moto.ds.models import ds_backends

    try:
        backend = ds_backends[account][region]
    except KeyError:
        return None
    for directory in list(backend.directories.values()):
        if any(trust.trust_id == trust_id for trust in getattr(directory, "trusts", None) or []):
            return directory.directory_id
    return None


def _iam_backends():
    from moto.iam.models import iam_backends

    return iam_backends


def signer(environ):
    """(moto iam backend, User) for an access key of an IAM user the lab knows, else None."""
    match = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    key_id = match.group(1)
    # Only the backends that exist: moto's dicts would make (and load the managed policies of) any other.
    for account in list(dict.values(_iam_backends())):
        for backend in list(dict.values(account)):
            key = backend.access_keys.get(key_id)
            if key is None or getattr(key, "role_arn", None) or not getattr(key, "user_name", None):
                continue
            try:
                return backend, backend.get_user(key.user_name)
            except Exception:  # the key outlived its user: leave it to moto
                return None
    return None


def documents_of(backend, user):
    """Every identity-based policy of the user: attached, inline, and those of its groups."""
    docs = []

    def add(text):
        if isinstance(text, str):
            text = json.loads(unquote(text) if text.lstrip().startswith("%") else text)
        docs.append(text)

    def managed(policies):
        for policy in policies.values():
            version = next((v for v in policy.versions if v.is_default), None)
            if version is not None:
                add(version.document)

    managed(user.managed_policies)
    for text in user.policies.values():
        add(text)
    for group in backend.get_groups_for_user(user.name):
        managed(group.managed_policies)
        for text in group.policies.values():
            add(text)
    return docs


def parameters(request, protocol):
    if protocol in ("query", "ec2"):
        return {k: v[-1] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
    params = dict(request.query)
    try:
        params.update(request.json() if request.body else {})
    except ValueError:
        pass
    return params


def resources(service, operation, params, region, account, partition):
    arn = f"arn:{partition}:{service}:{region}:{account}"
    if service == "rds":
        return _rds_resources(operation, params, f"arn:{partition}:rds:{region}:{account}")
    if service == "iam":
        if params.get("RoleName"):
            return [_role_arn(params["RoleName"], params.get("Path"), account, partition)]
        if params.get("UserName"):
            return [f"arn:{partition}:iam::{account}:user{params.get('Path') or '/'}{params['UserName']}"]
        if params.get("PolicyArn") and operation.endswith("Policy"):
            return [params["PolicyArn"]]
        return ["*"]
    if service in ("ds", "ds-data"):
        for name in ("DirectoryId", "SharedDirectoryId", "OwnerDirectoryId", "ResourceId"):
            if params.get(name):
                return [f"arn:{partition}:ds:{region}:{account}:directory/{params[name]}"]
        # DeleteTrust, VerifyTrust and UpdateTrust name only the trust; IAM judges them on its directory (Service
        # Authorization Reference, AWS Directory Service: resource type directory for the trust actions).
        directory_id = _directory_of_trust(params.get("TrustId"), region, account)
        if directory_id:
            return [f"arn:{partition}:ds:{region}:{account}:directory/{directory_id}"]
        return ["*"]
    if service == "ssm" and params.get("Name"):
        # The reference's parameter ARN: arn:<partition>:ssm:<region>:<account>:parameter/<name without its leading />.
        return [f"{arn}:parameter/{params['Name'].lstrip('/')}"]
    if service == "secretsmanager" and params.get("SecretId"):
        secret = params["SecretId"]
        return [secret if secret.startswith("arn:") else f"{arn}:secret:{secret}"]
    return ["*"]


def _rds_resources(operation, params, base):
    types = dict(_RDS_TYPES)
    if operation.endswith("TagsToResource") or operation in ("ListTagsForResource", "RemoveTagsFromResource"):
        return [params["ResourceName"]] if params.get("ResourceName") else ["*"]
    own = next((name for part, name in _RDS_OWN if part in operation), None)
    if not own or not params.get(own):
        return ["*"]
    named = [own] + [name for name in _RDS_ALSO.get(operation, ()) if params.get(name)]
    # rds stores identifiers in lower case, and so do its ARNs.
    return [f"{base}:{types[name]}:{params[name].lower()}" for name in named]


def _role_arn(name, path, account, partition):
    try:
        backend = dict.get(dict.get(_iam_backends(), account) or {}, partition)
        return backend.get_role(name).arn
    except Exception:  # no such backend, or the role is not made yet (CreateRole) or gone
        return f"arn:{partition}:iam::{account}:role{path or '/'}{name}"


# --- the refusal, in the service's protocol -------------------------------------------------------------------

def refuse(middleware, service, text):
    model = middleware._model(service)
    protocol = model.protocol if model else "json"
    request_id = str(uuid.uuid4())
    if service == "ds-data":
        body = json.dumps({"Message": text, "Reason": "IAM_AUTH"}).encode()
        return 403, {"Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException",
                     "x-amzn-RequestId": request_id}, body
    if protocol == "ec2":
        return middleware.error(service, "UnauthorizedOperation",
                                f"You are not authorized to perform this operation. {text}", 403)
    if protocol == "query":
        return middleware.error(service, "AccessDenied", text, 403)
    return middleware.error(service, "AccessDeniedException", text, 400)


class Authorizer:
    def __init__(self, lab, middleware):
        self.lab = lab
        self.middleware = middleware

    def __call__(self, request):
        """None to let the call through, else the refusal (status, headers, body)."""
        prefix = PREFIXES.get(request.service)
        if prefix is None:
            return None
        found = signer(request.environ)
        if found is None:
            return None
        backend, user = found
        region = _ACCESS_KEY.search(request.environ.get("HTTP_AUTHORIZATION", "")).group(2)
        partition = user.arn.split(":")[1]
        model = self.middleware._model(request.service)
        params = parameters(request, model.protocol if model else "json")
        action = f"{prefix}:{request.operation}"
        if action in NO_PERMISSION_NEEDED:
            return None
        wanted = resources(request.service, request.operation, params, region, user.account_id, partition)
        refused = refusal(documents_of(backend, user), action, wanted)
        if refused is None:
            return None
        return refuse(self.middleware, request.service, message(user.arn, action, *refused))


def install(lab, middleware):
    middleware.authorize(Authorizer(lab, middleware))
