"""STS fidelity (AWS_FACTS.md section 3): a Region where STS is deactivated for the account.

moto 5.2.5 is patched at runtime, never edited. What changes (lab/README.md, "STS"):

  - The fault `sts_region_disabled` (a list of Regions, or true for the lab's Region; env
    LAB_STS_REGION_DISABLED=1 or a comma-separated list at start) deactivates STS there. Every call that
    issues credentials (AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken,
    GetFederationToken) sent to that Region's endpoint answers RegionDisabledException, HTTP 403, with AWS's
    wording naming the account asked for the credentials: the role's for AssumeRole*, the caller's otherwise
    (IAM user guide, "Manage AWS STS in an AWS Region"). GetCallerIdentity still answers: it declares no errors
    and AWS answers it in a deactivated Region (aws-sdk-go-v2#2846).
  - Only Regions where AWS lets an account deactivate STS can be named: US East (N. Virginia) and the opt-in
    Regions are refused ("AWS STS Regions and endpoints", column "Manually activate/deactivate": No).
  - GetSessionToken and GetFederationToken with session credentials (those of an assumed role) answer
    AccessDenied "Cannot call GetSessionToken with session credentials", as AWS does [public reports:
    aws-sdk-net#1704; moto issues them].
"""

from . import partitions

FAULT = "sts_region_disabled"
DISABLED_MESSAGE = ("STS is not activated in this region for account:{account}. Your account administrator can "
                    "activate STS in this region using the IAM Console.")
ALWAYS_ACTIVE = frozenset(("us-east-1",)) | partitions.OPT_IN

_LAB = None
_INSTALLED = False


def disabled_regions(value, lab_region):
    """The Regions a fault value names: true -> the lab's Region; a list or a comma-separated string."""
    if value in (None, False, "", "0", 0):
        return set()
    if value is True or value in ("1", 1, "true"):
        return {lab_region}
    if isinstance(value, str):
        value = value.split(",")
    return {str(region).strip() for region in value if str(region).strip()}


def problems(value, lab_region):
    """Why a fault value cannot be: a Region where AWS does not let STS be deactivated."""
    fixed = sorted(disabled_regions(value, lab_region) & ALWAYS_ACTIVE)
    if fixed:
        return (f"STS cannot be deactivated in {', '.join(fixed)} (US East (N. Virginia) and opt-in Regions: AWS STS "
                "Regions and endpoints); name another Region, e.g. us-west-2, and send the STS calls there")
    return None


def _refuse_if_disabled(response, account_id):
    from moto.sts.exceptions import STSClientError

    if response.region in disabled_regions(_LAB.faults.get(FAULT), _LAB.region):
        raise STSClientError("RegionDisabledException", DISABLED_MESSAGE.format(account=account_id))


def _role_account(role_arn):
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _patch_responses():
    from moto.core.responses import ActionResult
    from moto.sts.exceptions import STSClientError
    from moto.sts.responses import TokenResponse

    def refusing_for_role(original):
        def answer(self):
            _refuse_if_disabled(self, _role_account(self._get_param("RoleArn")) or self.current_account)
            return original(self)
        return answer

    def refusing_for_caller(original, operation):
        def answer(self):
            _refuse_if_disabled(self, self.current_account)
            if self.backend.get_assumed_role_from_access_key(self.get_access_key()):
                # AccessDenied is in no STS error shape, so moto would answer 400: AWS answers 403.
                error = STSClientError("AccessDenied", f"Cannot call {operation} with session credentials")
                dummy, headers, body = self.serialized(ActionResult(error))
                headers["status"] = 403
                return body, headers
            return original(self)
        return answer

    for name in ("assume_role", "assume_role_with_saml", "assume_role_with_web_identity"):
        setattr(TokenResponse, name, refusing_for_role(getattr(TokenResponse, name)))
    TokenResponse.get_session_token = refusing_for_caller(TokenResponse.get_session_token, "GetSessionToken")
    TokenResponse.get_federation_token = refusing_for_caller(TokenResponse.get_federation_token, "GetFederationToken")


def install(lab, middleware):
    global _LAB, _INSTALLED
    _LAB = lab
    initial = lab.env.get("LAB_STS_REGION_DISABLED")
    if initial:
        problem = problems(initial, lab.region)
        if problem:
            raise SystemExit(f"LAB_STS_REGION_DISABLED: {problem}")
        lab.faults.update({FAULT: sorted(disabled_regions(initial, lab.region))})
    middleware.validate_fault(FAULT, lambda value: problems(value, lab.region))
    if _INSTALLED:
        return
    _patch_responses()
    _INSTALLED = True
