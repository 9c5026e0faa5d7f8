"""Directory Service (`ds`) as AWS answers it, on top of moto's ds backend (AWS_FACTS.md sections 1, 2, 7, 8).

moto 5.2.5 makes a directory Active at once, never verifies a trust, and lacks sharing, directory data
access, VerifyTrust and ResetUserPassword (AWS_FACTS section 9). This extension patches moto's classes
at runtime (moto's files are never edited):

- moto's `Directory.stage` becomes a property computed from the lab's clock, so every extension that
  reads `directory.stage` sees the truth: Requested -> Creating -> Active over knob
  `directory_seconds`, Deleting -> (gone) over knob `directory_delete_seconds`, or the stage injected
  with fault `directory_stage` ({directory_id: [stage, reason]}).
- moto's `Trust.trust_state` likewise: Creating -> Created -> Verifying -> Verified over knob
  `trust_seconds`, or VerifyFailed when fault `trust_verify_fail` is truthy (a string is the reason).
  A trust of the lab's directory with the lab's on-premises forest is made and verified for real
  instead (trusts.py).
- Operations moto lacks are methods added to moto's DirectoryServiceBackend and
  DirectoryServiceResponse (moto dispatches on the snake_case action name). botocore 1.44 lists
  smithy-rpc-v2-cbor first in the ds model, but resolves `json` (X-Amz-Target) because json comes
  first in its own priority list, and that is what moto parses.

What other extensions may read (a contract between lab/fidelity modules):
  directory.stage             the computed stage (string)
  directory.lab_data_access   "Enabled" | "Disabled" | "Enabling" | "Disabling" (ds_data reads it)
  directory.lab_share         on a consumer's shared directory (Type SharedMicrosoftAD): its share
                              record; usable by RDS only when lab_share["ShareStatus"] == "Shared"
  directory.lab_owner         on a consumer's shared directory: the owner's moto Directory
  cluster.lab_membership      written by the rds extension; read here to refuse DeleteDirectory

Acting as another account against moto (for sharing): moto takes the account from, in order, the
MOTO_ACCOUNT_ID environment variable of the server, an `x-moto-account-id` request header, or the
access key when moto issued it. The plain-boto3 way is STS: AssumeRole with
RoleArn=arn:aws:iam::<account>:role/<any name> returns credentials that act in <account> (the role
need not exist in moto), as a cross-account role would on AWS.
"""

import datetime
import re
import sys
import threading

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.core.utils import utcnow
from moto.ds import responses as ds_responses
from moto.ds.exceptions import (
    ClientException,
    DsValidationException,
    EntityAlreadyExistsException,
    EntityDoesNotExistException,
    InvalidParameterException,
    UnsupportedOperationException,
)
from moto.ds.models import Directory, DirectoryServiceBackend, Trust, ds_backends
from moto.ds.responses import DirectoryServiceResponse
from moto.ds.validations import validate_args
from moto.ec2 import ec2_backends
from moto.moto_api._internal import mock_random

from . import trusts

LAB = None  # the LabContext (context.py), set by install()
_LOCK = threading.RLock()

CREATE_STAGES = ("Requested", "Creating", "Active")
# AWS_FACTS section 2 (the AddIpRoutes text of the ds model): the domain controllers' security group.
# The model text says 3268-33269; AWS_FACTS (and the global catalog) say 3268-3269.
CONTROLLER_UDP = ((53, 53), (88, 88), (123, 123), (138, 138), (389, 389), (445, 445), (464, 464))
CONTROLLER_TCP = ((53, 53), (88, 88), (135, 135), (389, 389), (445, 445), (464, 464), (636, 636),
                  (3268, 3269), (1024, 65535))
# Shares per directory (AWS Directory Service quotas): Standard 5, Enterprise 125.
SHARE_LIMITS = {"Standard": 5, "Enterprise": 125}
LIVE_SHARE = ("Shared", "PendingAcceptance", "Sharing")
# AWS_FACTS section 1, recorded error: DeleteDirectory while a DB, a share (or another application) uses it.
AUTHORIZED_APPLICATIONS = "Cannot delete the directory because it still has authorized applications."
# AWS_FACTS section 1, recorded error (aws_recorded ds.CreateMicrosoftAD.error.InvalidParameterException.reserved-domain).
RESERVED_DOMAINS = ("example", "invalid", "localhost")
RESERVED_DOMAINS_MESSAGE = ("The following domain names are reserved and cannot be used with your directory: "
                            "*.example, *.invalid, *.localhost")
USER_NAME = r'^(?!.*\\|.*"|.*\/|.*\[|.*\]|.*:|.*;|.*\||.*=|.*,|.*\+|.*\*|.*\?|.*<|.*>|.*@).*$'


def error(code, message):
    """An AWS error of the ds (JSON) protocol with a code moto has no class for."""
    return JsonRESTError(code, message)


def _dt(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)


def _timed(started, seconds, stages):
    """(stage, since): lab.progress's stage, and when it was reached."""
    stage = LAB.progress(started, seconds, stages)
    if seconds <= 0:
        return stage, started
    return stage, started + stages.index(stage) * seconds / max(len(stages) - 1, 1)


# --- the directory's stage (AWS_FACTS section 1) ------------------------------------------------

def _injected(directory_id):
    """The fault `directory_stage`: {id: [stage, reason]} (or {id: stage})."""
    value = (LAB.faults.get("directory_stage") or {}).get(directory_id)
    if not value:
        return None
    if isinstance(value, str):
        return value, ""
    return value[0], (value[1] if len(value) > 1 else "")


def _directory_timeline(directory):
    """(stage, since epoch or None, StageReason) of an owner's directory, computed now."""
    state = directory.__dict__
    deleting = state.get("_lab_deleting_since")
    if deleting is not None:
        seconds = LAB.knobs["directory_delete_seconds"]
        if LAB.now() - deleting >= seconds:
            return "Deleted", deleting + seconds, ""
        return "Deleting", deleting, ""
    fault = _injected(directory.directory_id)
    if fault:
        seen = state.get("_lab_fault")
        if not seen or seen[0] != fault[0]:
            seen = state["_lab_fault"] = (fault[0], LAB.now())
        return fault[0], seen[1], fault[1]
    state.pop("_lab_fault", None)
    started = state.get("_lab_started")
    if started is None:  # set outright (by moto's __init__ before ours, or by another extension)
        return state.get("_lab_stage", "Active"), state.get("_lab_stage_since"), ""
    stage, since = _timed(started, LAB.knobs["directory_seconds"], CREATE_STAGES)
    return stage, since, ""


def _get_stage(self):
    return _directory_timeline(self)[0]


def _set_stage(self, value):
    self.__dict__.update(_lab_stage=value, _lab_stage_since=LAB.now() if LAB else None, _lab_started=None)


def _get_stage_time(self):
    since = _directory_timeline(self)[1]
    return _dt(since) if since is not None else self.__dict__.get("_lab_stage_time", utcnow())


def _set_stage_time(self, value):
    self.__dict__["_lab_stage_time"] = value


def _stage_reason(directory):
    return _directory_timeline(directory)[2]


# --- directory data access (AWS_FACTS section 7) ------------------------------------------------

def _get_data_access(self):
    state = self.__dict__
    target = state.get("_lab_da_target")
    if target is None:
        return state.get("_lab_da_value", "Disabled")
    moving = "Enabling" if target == "Enabled" else "Disabling"
    return _timed(state["_lab_da_since"], LAB.knobs["data_access_seconds"], (moving, target))[0]


def _get_data_access_since(self):
    """When data access became Enabled through EnableDirectoryDataAccess (epoch), else None."""
    state = self.__dict__
    if state.get("_lab_da_target") != "Enabled":
        return None
    return state["_lab_da_since"] + LAB.knobs["data_access_seconds"]


def _set_data_access(self, value):
    self.__dict__.update(_lab_da_target=None, _lab_da_value=value)


def _start_data_access(directory, target):
    directory.__dict__.update(_lab_da_target=target, _lab_da_since=LAB.now())


# --- the consumer's side of a shared directory (AWS_FACTS section 2) ----------------------------

class SharedDirectoryView(Directory):
    """What ShareDirectory creates in the consumer account: the owner's directory under the
    consumer's own SharedDirectoryId, Type SharedMicrosoftAD. No VPC, SG or ENIs of its own."""

    def __init__(self, owner, share, account_id, region):  # pylint: disable=super-init-not-called
        self.__dict__.update(
            account_id=account_id, region=region, lab_owner=owner, lab_share=share,
            directory_id=share["SharedDirectoryId"], directory_type="SharedMicrosoftAD",
            password=None, size=None, vpc_settings=None, connect_settings=None,
            access_url=f"{share['SharedDirectoryId']}.awsapps.com", alias=share["SharedDirectoryId"],
            desired_number_of_domain_controllers=0, sso_enabled=False, launch_time=utcnow(),
            ldaps_settings_info=[], radius_settings=None, radius_status=None, trusts=[], settings=[],
            eni_ids=[], security_group_id=None,
        )

    name = property(lambda self: self.lab_owner.name)
    short_name = property(lambda self: self.lab_owner.short_name)
    description = property(lambda self: self.lab_owner.description)
    edition = property(lambda self: self.lab_owner.edition)
    dns_ip_addrs = property(lambda self: self.lab_owner.dns_ip_addrs)
    stage = property(lambda self: self.lab_owner.stage, lambda self, value: None)
    stage_last_updated_date_time = property(lambda self: self.lab_owner.stage_last_updated_date_time,
                                            lambda self, value: None)
    lab_data_access = property(lambda self: self.lab_owner.lab_data_access, lambda self, value: None)
    lab_data_access_since = property(lambda self: self.lab_owner.lab_data_access_since)

    def delete_eni(self):
        pass

    def delete_security_group(self):
        pass


def _shares(backend):
    """The owner backend's shares: SharedDirectoryId -> SharedDirectory record (model shape)."""
    return backend.__dict__.setdefault("lab_shares", {})


def _public(record):
    return {k: v for k, v in record.items() if not k.startswith("_") and v is not None}


def _description(original):
    def describe(directory):
        out = original(directory)
        reason = _stage_reason(directory.lab_owner if isinstance(directory, SharedDirectoryView) else directory)
        if reason:
            out["StageReason"] = reason
        if isinstance(directory, SharedDirectoryView):
            owner, share = directory.lab_owner, directory.lab_share
            out.update(ShareStatus=share["ShareStatus"], ShareMethod=share["ShareMethod"],
                       ShareNotes=share.get("ShareNotes"),
                       OwnerDirectoryDescription={"DirectoryId": owner.directory_id, "AccountId": owner.account_id,
                                                  "DnsIpAddrs": owner.dns_ip_addrs, "VpcSettings": owner.vpc_settings})
        return out
    return describe


# --- helpers on the backend ---------------------------------------------------------------------

def _directory(backend, directory_id, missing=None):
    """The caller's directory; an unknown id answers EntityDoesNotExistException (or `missing`)."""
    validate_args([("directoryId", directory_id or "")])
    directory = backend.directories.get(directory_id)
    if directory is None:
        raise missing or EntityDoesNotExistException(f"Directory {directory_id} does not exist")
    return directory


def _owned_managed_ad(directory, operation, lab_limit=False):
    """Only the owner's AWS Managed Microsoft AD; lab_limit: AWS also serves other types, the lab can't."""
    if isinstance(directory, SharedDirectoryView):
        raise UnsupportedOperationException(
            f"{operation} is not supported on a shared directory ({directory.directory_id}): "
            f"call it in the owner account on {directory.lab_owner.directory_id}")
    if directory.directory_type != "MicrosoftAD":
        if lab_limit:
            raise UnsupportedOperationException(
                f"Lab limitation: {operation} needs a real directory, and only AWS Managed Microsoft AD directories "
                f"are backed by the lab's Samba DC, not {directory.directory_type}")
        raise UnsupportedOperationException(
            f"{operation} is only supported for AWS Managed Microsoft AD, not {directory.directory_type}")


def _members(account_id, region, directory_id):
    """RDS clusters (and instances) whose lab_membership names this directory (the rds extension's)."""
    from moto.rds.models import rds_backends

    backend = rds_backends[account_id][region]
    names = []
    for kind, resources in (("DB cluster", backend.clusters), ("DB instance", backend.databases)):
        for resource in list(resources.values()):
            membership = getattr(resource, "lab_membership", None)
            if membership and membership.get("domain") == directory_id:
                name = getattr(resource, "db_cluster_identifier", None) or getattr(resource, "db_instance_identifier", "?")
                names.append(f"{kind} {name} ({membership.get('status')})")
    return names


# The lifetimes (USN windows) of directories that are gone while another still stood: their objects are forgotten
# with the last one's, so two directories that end together (or one before the other) leave nothing behind.
_GONE_WINDOWS = []


def _purge(backend):
    """Directories whose deletion has finished disappear; done lazily before each ds call."""
    with _LOCK:
        for directory_id, directory in list(backend.directories.items()):
            if isinstance(directory, SharedDirectoryView) or directory.stage != "Deleted":
                continue
            for cleanup in (directory.delete_eni, directory.delete_security_group):
                try:
                    cleanup()
                except Exception:  # an ENI or SG already gone or still referenced: AWS removes it anyway
                    pass
            backend.tagger.delete_all_tags_for_resource(directory_id)
            backend.directories.pop(directory_id, None)
            _GONE_WINDOWS.append((directory.__dict__.get("_lab_usn_created"), directory.__dict__.get("_lab_usn_deleting")))
        if _GONE_WINDOWS and not any(not isinstance(d, SharedDirectoryView) for d in backend.directories.values()):
            # A window whose forgetting found the DC down stays until a later ds call finds it up.
            _GONE_WINDOWS[:] = [window for window in _GONE_WINDOWS if not _forget_directory_objects(*window)]


def _highest_usn():
    """The DC's highestCommittedUSN: every object made later has a greater uSNCreated. Ordering by USN, not by
    whenCreated (one-second resolution), leaves no race between a directory's end and the next test's objects."""
    try:
        with LAB.ldap_administrator() as conn:
            # The rootDSE's attributes are not in the schema ldap3 checks names against: ask for all of them.
            conn.search("", "(objectClass=*)", search_scope="BASE", attributes=["*"])
            value = conn.response[0]["attributes"]["highestCommittedUSN"]
            return int(value[0] if isinstance(value, list) else value)
    except Exception:  # the DC is down (a test stops it): nothing will be forgotten for this directory
        return None


def _forget_directory_objects(since, until):
    """Deleting a directory deletes every user and group in it, for good (AWS_FACTS section 1: AWS keeps no
    way back). The lab has one real AD for all its directories, so when the last one is gone it deletes the
    users and groups made in the delegated OU while that directory existed (uSNCreated after the DC's
    highest USN at CreateMicrosoftAD, up to its highest USN at DeleteDirectory), Admin excepted: the next
    directory starts as empty as a new Managed AD. Objects made outside that window (by a test, straight over
    LDAP) stay. [inferred: the lab's stand-in for a directory's own AD]
    A window whose end the DC could not tell (it was down at DeleteDirectory) ends at the DC's highest USN now:
    no directory stands, so nothing made since is any directory's. Returns False when the DC is down (the
    window is kept for a later try), True when done."""
    if since is None:  # CreateMicrosoftAD sets the Admin password on the DC first: never None in practice
        return True
    until = _highest_usn() if until is None else until
    if until is None:
        return False
    import ldap3

    base = f"OU={LAB.ad_netbios},{LAB.ad_base_dn}"
    try:
        with LAB.ldap_administrator() as conn:
            conn.search(base, f"(&(|(objectClass=user)(objectClass=group))(uSNCreated>={since + 1})"
                              f"(uSNCreated<={until})"
                              f"(!(objectClass=computer))(!(sAMAccountName={LAB.ad_admin_user})))",
                        search_scope=ldap3.SUBTREE, attributes=["sAMAccountName"])
            for entry in list(conn.entries):
                conn.delete(entry.entry_dn)
    except Exception:  # the DC is down (a test stops it): try again at the next ds call
        return False
    return True


def forget_previous_endpoint():
    """At the endpoint's start no directory exists (its state lives in this process), yet the DC keeps what the
    directories of the endpoint's previous life made (a lab restarted with `lab.py down` and `up`). They are
    forgotten as a deleted directory's would be: every user and group of the delegated OU, Admin and computers
    excepted, so the next directory starts as empty as a new Managed AD. [inferred, as above]"""
    if not _forget_directory_objects(0, None):
        print("lab: the DC did not answer at the endpoint's start: AD objects of earlier directories are kept",
              file=sys.stderr)


# --- passwords in the real AD (AWS_FACTS sections 1 and 7) ---------------------------------------

def _find_user(conn, user_name):
    from ldap3.utils.conv import escape_filter_chars

    conn.search(LAB.ad_base_dn, f"(&(objectCategory=person)(sAMAccountName={escape_filter_chars(user_name)}))",
                attributes=["userAccountControl", "sAMAccountName"])
    return conn.entries[0] if conn.entries else None


def set_password(user_name, password, enable=True):
    """Reset an AD user's password as AWS's service does (LDAPS, as Administrator) and enable the user.
    Returns the user's DN; raises LookupError when the user does not exist."""
    import ldap3

    with LAB.ldap_administrator() as conn:
        entry = _find_user(conn, user_name)
        if entry is None:
            raise LookupError(user_name)
        dn = entry.entry_dn
        conn.extend.microsoft.modify_password(dn, password)
        if enable:
            uac = int(entry.userAccountControl.value or 512)
            enabled = (uac & ~0x2 & ~0x20) | 0x200  # not ACCOUNTDISABLE, not PASSWD_NOTREQD; NORMAL_ACCOUNT
            if enabled != uac:
                conn.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [enabled])]})
    return dn


def _user_dn(user_name):
    with LAB.ldap_administrator() as conn:
        entry = _find_user(conn, user_name)
        return entry.entry_dn if entry else None


# --- the patched and added backend methods -------------------------------------------------------

def _patch_backend(orig):
    B = DirectoryServiceBackend

    def _verify_subnets(self, region, vpc_settings):
        # AWS_FACTS section 1: exactly 2 subnets, in 2 AZs, in the given VPC.
        subnet_ids = vpc_settings.get("SubnetIds") or []
        if len(subnet_ids) != 2 or len(set(subnet_ids)) != 2:
            raise InvalidParameterException("Invalid subnet ID(s). They must correspond to two subnets "
                                            "in different Availability Zones.")
        orig["_verify_subnets"](self, region, vpc_settings)
        ec2 = ec2_backends[self.account_id][region]
        foreign = [s.id for s in ec2.describe_subnets(subnet_ids=subnet_ids) if s.vpc_id != vpc_settings["VpcId"]]
        if foreign:
            raise ClientException(f"Invalid subnet ID(s). Subnet(s) {', '.join(foreign)} do not belong to "
                                  f"VPC {vpc_settings['VpcId']}.")

    def create_microsoft_ad(self, region, name, short_name, password, description, vpc_settings, edition, tags):
        # AWS_FACTS section 1. Pattern checks first (ValidationException, as moto and AWS), then the rest.
        if edition == "Hybrid":
            raise UnsupportedOperationException("Edition Hybrid is not supported by the lab's CreateMicrosoftAD: "
                                                "use Standard or Enterprise.")
        validate_args([("password", password or ""), ("edition", edition), ("name", name or ""),
                       ("description", description), ("shortName", short_name),
                       ("vpcSettings.subnetIds", (vpc_settings or {}).get("SubnetIds") or [])])
        if name.rsplit(".", 1)[-1].lower() in RESERVED_DOMAINS:
            raise InvalidParameterException(RESERVED_DOMAINS_MESSAGE)
        if "admin" in password.lower():
            raise InvalidParameterException("Invalid directory password: the password must not contain the word "
                                            "\"admin\".")
        if name.rstrip(".").lower() != LAB.ad_domain.lower():
            raise UnsupportedOperationException(
                f"Lab limitation: the lab has one real directory, {LAB.ad_domain} (LAB_AD_DOMAIN); "
                f"it cannot create {name}. Use Name={LAB.ad_domain}.")
        if short_name and short_name.upper() != LAB.ad_netbios.upper():
            raise UnsupportedOperationException(
                f"Lab limitation: the lab's directory has the NetBIOS name {LAB.ad_netbios} (LAB_AD_NETBIOS); "
                f"ShortName {short_name} cannot be honoured. Omit ShortName or use {LAB.ad_netbios}.")
        directory_id = orig["create_microsoft_ad"](self, region, name, short_name or LAB.ad_netbios, password,
                                                   description, vpc_settings, edition or "Enterprise", tags)
        directory = self.directories[directory_id]
        directory.dns_ip_addrs = [LAB.dc_ip]  # the Samba DC is the directory's DNS and KDC
        _controller_rules(directory)
        try:
            set_password(LAB.ad_admin_user, password)
        except Exception as exc:
            orig["delete_directory"](self, directory_id)
            raise ClientException(f"The directory's Admin password could not be set: {exc}") from None
        LAB.save_admin_password(password)
        directory.__dict__["_lab_usn_created"] = _highest_usn()
        return directory_id

    def delete_directory(self, directory_id):
        # AWS_FACTS section 1 (teardown): refused while a DB cluster is still a domain member.
        _purge(self)
        directory = _directory(self, directory_id)
        if isinstance(directory, SharedDirectoryView):
            raise ClientException(f"Directory {directory_id} is shared with this account by account "
                                  f"{directory.lab_owner.account_id}: it cannot be deleted here. Reject it "
                                  "(RejectSharedDirectory) or ask the owner to unshare it.")
        if directory.__dict__.get("_lab_deleting_since") is not None:
            return directory_id
        # AWS's answer names none of the applications: the recorded wording, exactly.
        members = _members(self.account_id, self.region_name, directory_id)
        shared = [f"shared with {r['SharedAccountId']}" for r in _shares(self).values()
                  if r["OwnerDirectoryId"] == directory_id and r["ShareStatus"] in LIVE_SHARE]
        if members or shared:
            raise ClientException(AUTHORIZED_APPLICATIONS)
        directory.__dict__["_lab_deleting_since"] = LAB.now()
        directory.__dict__["_lab_usn_deleting"] = _highest_usn()
        return directory_id

    def describe_directories(self, *args, **kwargs):
        _purge(self)
        return orig["describe_directories"](self, *args, **kwargs)

    def describe_regions(self, directory_id, region_name):
        """Multi-Region replication (ds model, DescribeRegions): the lab has no AddRegion, so a directory
        is in its own Region only, as RegionType Primary [inferred: the answer for a Standard directory]."""
        directory = _directory(self, directory_id, missing=error(
            "DirectoryDoesNotExistException", f"Directory {directory_id} does not exist"))
        _owned_managed_ad(directory, "DescribeRegions")
        if region_name and region_name != self.region_name:
            return []
        return [{"DirectoryId": directory_id, "RegionName": self.region_name, "RegionType": "Primary",
                 "Status": directory.stage, "VpcSettings": directory.vpc_settings,
                 "DesiredNumberOfDomainControllers": 2, "LaunchTime": directory.launch_time,
                 "StatusLastUpdatedDateTime": directory.stage_last_updated_date_time,
                 "LastUpdatedDateTime": directory.stage_last_updated_date_time}]

    # -- trusts (AWS_FACTS section 8) --

    def create_trust(self, directory_id, remote_domain_name, trust_password, trust_direction, trust_type,
                     conditional_forwarder_ip_addrs, selective_auth):
        validate_args([("directoryId", directory_id or ""), ("trustDirection", trust_direction),
                       ("remoteDomainName", remote_domain_name or ""), ("ssoPassword", trust_password)])
        problems = []
        if trust_type is not None and trust_type not in ("Forest", "External"):
            problems.append(("trustType", trust_type, "satisfy enum value set: [Forest, External]"))
        if selective_auth is not None and selective_auth not in ("Enabled", "Disabled"):
            problems.append(("selectiveAuth", selective_auth, "satisfy enum value set: [Enabled, Disabled]"))
        if problems:
            raise DsValidationException(problems)
        if not trust_password:
            raise InvalidParameterException("TrustPassword is required: the password of the trust relationship "
                                            "created in the remote domain.")
        directory = _directory(self, directory_id)
        _owned_managed_ad(directory, "CreateTrust")
        if directory.stage != "Active":
            raise ClientException(f"Directory {directory_id} is {directory.stage}: trusts can be created only on "
                                  "an Active directory.")
        remote = remote_domain_name.rstrip(".").lower()
        if remote == directory.name.lower():
            raise InvalidParameterException(f"RemoteDomainName {remote_domain_name} is the directory's own domain.")
        if any(t.remote_domain_name.rstrip(".").lower() == remote for t in directory.trusts):
            raise EntityAlreadyExistsException(f"A trust with {remote_domain_name} already exists for directory "
                                               f"{directory_id}.")
        trust_id = orig["create_trust"](self, directory_id, remote_domain_name, trust_password, trust_direction,
                                        trust_type or "Forest", conditional_forwarder_ip_addrs, selective_auth)
        if conditional_forwarder_ip_addrs:  # CreateTrust's forwarder is the directory's conditional forwarder
            _forwarders(directory)[remote] = {"RemoteDomainName": remote_domain_name.rstrip("."),
                                              "DnsIpAddrs": list(conditional_forwarder_ip_addrs), "ReplicationScope": "Domain"}
        if trusts.is_lab_forest(directory, remote_domain_name):  # a real trust between the lab's two forests
            trust = next(t for t in directory.trusts if t.trust_id == trust_id)
            trust.__dict__.update(_lab_forest=True, _lab_directory=directory)
            trusts.start(trust, create=True)
        return trust_id

    def verify_trust(self, trust_id):
        trust = next((t for d in self.directories.values() for t in d.trusts if t.trust_id == trust_id), None)
        if trust is None:
            raise EntityDoesNotExistException(f"Trust {trust_id} does not exist")
        state = trust.trust_state
        if state in ("Creating", "Verifying", "Updating", "Deleting", "Deleted"):
            raise ClientException(f"Trust {trust_id} is {state}: it can be verified once it is created and no "
                                  "other operation runs on it.")
        if trust.__dict__.get("_lab_forest"):
            trusts.start(trust, create=False)
        else:
            _start_verification(trust, ("Verifying",))
        return trust_id

    def delete_trust(self, trust_id, delete_associated_conditional_forwarder):
        found = next(((d, t) for d in self.directories.values() for t in d.trusts if t.trust_id == trust_id), None)
        if found and found[1].__dict__.get("_lab_forest"):
            trusts.delete(found[1])
        if found and delete_associated_conditional_forwarder:
            _forwarders(found[0]).pop(found[1].remote_domain_name.rstrip(".").lower(), None)
        return orig["delete_trust"](self, trust_id, delete_associated_conditional_forwarder)

    # -- conditional forwarders (ds model; moto has none) --

    def _forwarder_directory(self, directory_id, operation):
        directory = _directory(self, directory_id)
        _owned_managed_ad(directory, operation)
        if directory.stage != "Active":
            raise error("DirectoryUnavailableException", f"Directory {directory_id} is {directory.stage}.")
        return directory

    def create_conditional_forwarder(self, directory_id, remote_domain_name, dns_ip_addrs):
        directory = self._forwarder_directory(directory_id, "CreateConditionalForwarder")
        remote = (remote_domain_name or "").rstrip(".").lower()
        if not dns_ip_addrs:
            raise InvalidParameterException("DnsIpAddrs is required: the DNS servers of the remote domain.")
        if remote in _forwarders(directory):
            raise EntityAlreadyExistsException(f"A conditional forwarder for {remote_domain_name} already exists.")
        _forwarders(directory)[remote] = {"RemoteDomainName": remote_domain_name.rstrip("."),
                                          "DnsIpAddrs": list(dns_ip_addrs), "ReplicationScope": "Domain"}

    def update_conditional_forwarder(self, directory_id, remote_domain_name, dns_ip_addrs):
        directory = self._forwarder_directory(directory_id, "UpdateConditionalForwarder")
        remote = (remote_domain_name or "").rstrip(".").lower()
        if remote not in _forwarders(directory):
            raise EntityDoesNotExistException(f"No conditional forwarder for {remote_domain_name} exists.")
        if not dns_ip_addrs:
            raise InvalidParameterException("DnsIpAddrs is required: the DNS servers of the remote domain.")
        _forwarders(directory)[remote]["DnsIpAddrs"] = list(dns_ip_addrs)

    def delete_conditional_forwarder(self, directory_id, remote_domain_name):
        directory = self._forwarder_directory(directory_id, "DeleteConditionalForwarder")
        if _forwarders(directory).pop((remote_domain_name or "").rstrip(".").lower(), None) is None:
            raise EntityDoesNotExistException(f"No conditional forwarder for {remote_domain_name} exists.")

    def describe_conditional_forwarders(self, directory_id, remote_domain_names):
        directory = self._forwarder_directory(directory_id, "DescribeConditionalForwarders")
        wanted = {name.rstrip(".").lower() for name in remote_domain_names or []}
        return [dict(f) for name, f in sorted(_forwarders(directory).items()) if not wanted or name in wanted]

    # -- sharing (AWS_FACTS section 2) --

    def share_directory(self, directory_id, share_target, share_method, share_notes):
        directory = _directory(self, directory_id)
        _owned_managed_ad(directory, "ShareDirectory")
        target_id, target_type = (share_target or {}).get("Id"), (share_target or {}).get("Type")
        if target_type != "ACCOUNT":
            raise InvalidParameterException(f"ShareTarget.Type must be ACCOUNT, not {target_type}.")
        if share_method not in ("ORGANIZATIONS", "HANDSHAKE"):
            raise InvalidParameterException(f"ShareMethod must be ORGANIZATIONS or HANDSHAKE, not {share_method}.")
        if not re.fullmatch(r"\d{12}", target_id or ""):
            raise error("InvalidTargetException", f"ShareTarget.Id {target_id} is not an AWS account id.")
        if target_id == self.account_id:
            raise error("InvalidTargetException", "A directory cannot be shared with the account that owns it.")
        if directory.stage != "Active":
            raise ClientException(f"Directory {directory_id} is {directory.stage}: only an Active directory can be "
                                  "shared.")
        with _LOCK:
            records = _shares(self)
            mine = [r for r in records.values() if r["OwnerDirectoryId"] == directory_id]
            if any(r["SharedAccountId"] == target_id and r["ShareStatus"] in LIVE_SHARE for r in mine):
                raise error("DirectoryAlreadySharedException",
                            f"Directory {directory_id} is already shared with account {target_id}.")
            limit = SHARE_LIMITS.get(directory.edition or "Enterprise", 125)
            if sum(r["ShareStatus"] in LIVE_SHARE for r in mine) >= limit:
                raise error("ShareLimitExceededException",
                            f"Directory {directory_id} ({directory.edition}) can be shared with at most {limit} "
                            "accounts.")
            for old in [k for k, r in records.items() if r["OwnerDirectoryId"] == directory_id
                        and r["SharedAccountId"] == target_id]:
                records.pop(old)  # a rejected or ended share is replaced
            now = utcnow()
            shared_id = f"d-{mock_random.get_random_hex(10)}"
            record = {"OwnerAccountId": self.account_id, "OwnerDirectoryId": directory_id,
                      "ShareMethod": share_method, "SharedAccountId": target_id, "SharedDirectoryId": shared_id,
                      "ShareStatus": "PendingAcceptance" if share_method == "HANDSHAKE" else "Shared",
                      "ShareNotes": share_notes if share_method == "HANDSHAKE" else None,
                      "CreatedDateTime": now, "LastUpdatedDateTime": now}
            records[shared_id] = record
            consumer = ds_backends[target_id][self.region_name]
            consumer.directories[shared_id] = SharedDirectoryView(directory, record, target_id, self.region_name)
        return shared_id

    def _consumer_view(self, shared_directory_id):
        view = self.directories.get(shared_directory_id)
        if not isinstance(view, SharedDirectoryView):
            raise EntityDoesNotExistException(f"Shared directory {shared_directory_id} does not exist")
        return view

    def accept_shared_directory(self, shared_directory_id):
        view = _consumer_view(self, shared_directory_id)
        with _LOCK:
            record = view.lab_share
            if record["ShareStatus"] == "Shared":
                raise error("DirectoryAlreadySharedException",
                            f"Shared directory {shared_directory_id} has already been accepted.")
            if record["ShareStatus"] != "PendingAcceptance":
                raise ClientException(f"Shared directory {shared_directory_id} is {record['ShareStatus']}.")
            record.update(ShareStatus="Shared", LastUpdatedDateTime=utcnow())
        return _public(record)

    def reject_shared_directory(self, shared_directory_id):
        view = _consumer_view(self, shared_directory_id)
        with _LOCK:
            record = view.lab_share
            if record["ShareStatus"] == "Shared":
                raise error("DirectoryAlreadySharedException",
                            f"Shared directory {shared_directory_id} has already been accepted: the owner "
                            "unshares it (UnshareDirectory).")
            if record["ShareStatus"] != "PendingAcceptance":
                raise ClientException(f"Shared directory {shared_directory_id} is {record['ShareStatus']}.")
            record.update(ShareStatus="Rejected", LastUpdatedDateTime=utcnow())
            self.directories.pop(shared_directory_id, None)
        return shared_directory_id

    def unshare_directory(self, directory_id, unshare_target):
        directory = _directory(self, directory_id)
        _owned_managed_ad(directory, "UnshareDirectory")
        target_id, target_type = (unshare_target or {}).get("Id"), (unshare_target or {}).get("Type")
        if target_type != "ACCOUNT":
            raise error("InvalidTargetException", f"UnshareTarget.Type must be ACCOUNT, not {target_type}.")
        with _LOCK:
            records = _shares(self)
            record = next((r for r in records.values() if r["OwnerDirectoryId"] == directory_id
                           and r["SharedAccountId"] == target_id and r["ShareStatus"] in LIVE_SHARE), None)
            if record is None:
                raise error("DirectoryNotSharedException",
                            f"Directory {directory_id} is not shared with account {target_id}.")
            shared_id = record["SharedDirectoryId"]
            members = _members(target_id, self.region_name, shared_id)
            if members:
                raise ClientException(f"Shared directory {shared_id} in account {target_id} still has authorized "
                                      f"applications: {', '.join(members)}. They must leave the domain first.")
            records.pop(shared_id)
            ds_backends[target_id][self.region_name].directories.pop(shared_id, None)
        return shared_id

    def describe_shared_directories(self, owner_directory_id, shared_directory_ids):
        validate_args([("directoryId", owner_directory_id or "")])
        records = [r for r in _shares(self).values() if r["OwnerDirectoryId"] == owner_directory_id]
        if owner_directory_id in self.directories:
            pass  # the owner sees every share of its directory
        else:  # a consumer sees its own share of that directory
            records = [v.lab_share for v in self.directories.values() if isinstance(v, SharedDirectoryView)
                       and v.lab_owner.directory_id == owner_directory_id]
            if not records:
                raise EntityDoesNotExistException(f"Directory {owner_directory_id} does not exist")
        if shared_directory_ids:
            records = [r for r in records if r["SharedDirectoryId"] in shared_directory_ids]
        return [_public(r) for r in records]

    # -- directory data access (AWS_FACTS section 7) --

    def _data_access_directory(self, directory_id, operation, need_active=True):
        directory = _directory(self, directory_id, missing=error(
            "DirectoryDoesNotExistException", f"Directory {directory_id} does not exist"))
        _owned_managed_ad(directory, operation)
        if need_active and directory.stage != "Active":
            raise error("DirectoryUnavailableException", f"Directory {directory_id} is {directory.stage}: "
                        f"{operation} needs an Active directory.")
        return directory

    def enable_directory_data_access(self, directory_id):
        directory = _data_access_directory(self, directory_id, "EnableDirectoryDataAccess")
        status = directory.lab_data_access
        if status in ("Enabled", "Enabling"):
            raise error("DirectoryInDesiredStateException",
                        f"Directory data access is already {status} for {directory_id}.")
        if status == "Disabling":
            raise ClientException(f"Directory data access is Disabling for {directory_id}: wait until it is "
                                  "Disabled.")
        _start_data_access(directory, "Enabled")

    def disable_directory_data_access(self, directory_id):
        directory = _data_access_directory(self, directory_id, "DisableDirectoryDataAccess")
        status = directory.lab_data_access
        if status in ("Disabled", "Disabling"):
            raise error("DirectoryInDesiredStateException",
                        f"Directory data access is already {status} for {directory_id}.")
        if status == "Enabling":
            raise ClientException(f"Directory data access is Enabling for {directory_id}: wait until it is Enabled.")
        _start_data_access(directory, "Disabled")

    def describe_directory_data_access(self, directory_id):
        return _data_access_directory(self, directory_id, "DescribeDirectoryDataAccess", need_active=False).lab_data_access

    # -- ResetUserPassword (AWS_FACTS sections 1 and 7) --

    def reset_user_password(self, directory_id, user_name, new_password):
        validate_args([("directoryId", directory_id or "")])
        if not user_name or len(user_name) > 64 or not re.match(USER_NAME, user_name):
            raise DsValidationException([("userName", user_name, f"satisfy regular expression pattern: {USER_NAME}")])
        directory = _directory(self, directory_id)
        _owned_managed_ad(directory, "ResetUserPassword", lab_limit=True)
        if directory.stage != "Active":
            raise error("DirectoryUnavailableException", f"Directory {directory_id} is {directory.stage}.")
        dn = _user_dn(user_name)
        fresh = getattr(LAB, "ds_data", None)  # a user ds-data created seconds ago: ds does not know it yet
        if dn is None or (fresh is not None and fresh.is_fresh(directory_id, user_name)):
            raise error("UserDoesNotExistException", f"User {user_name} does not exist in directory {directory_id}.")
        netbios_ou = f",OU={LAB.ad_netbios},{LAB.ad_base_dn}".lower()
        if not dn.lower().endswith(netbios_ou):
            raise UnsupportedOperationException(
                f"Cannot reset the password of {user_name}: AWS Managed Microsoft AD resets passwords only for "
                f"users in the OU named after the NetBIOS name (OU={LAB.ad_netbios}), and {dn} is outside it.")
        from ldap3.core.exceptions import LDAPOperationResult

        try:
            set_password(user_name, new_password)
        except LookupError:
            raise error("UserDoesNotExistException", f"User {user_name} does not exist in directory {directory_id}.")
        except LDAPOperationResult as exc:
            if exc.result in (19, 53):  # constraintViolation, unwillingToPerform: AD's password policy said no
                raise error("InvalidPasswordException", "The new password does not meet the password complexity "
                            "requirements defined in your directory.") from None
            raise ClientException(f"The directory refused the password reset: {exc.description}") from None
        if user_name.lower() == LAB.ad_admin_user.lower():
            LAB.save_admin_password(new_password)

    added = dict(
        _verify_subnets=_verify_subnets, create_microsoft_ad=create_microsoft_ad, delete_directory=delete_directory,
        describe_directories=describe_directories, create_trust=create_trust, verify_trust=verify_trust,
        delete_trust=delete_trust, _forwarder_directory=_forwarder_directory,
        create_conditional_forwarder=create_conditional_forwarder,
        update_conditional_forwarder=update_conditional_forwarder,
        delete_conditional_forwarder=delete_conditional_forwarder,
        describe_conditional_forwarders=describe_conditional_forwarders,
        share_directory=share_directory, accept_shared_directory=accept_shared_directory,
        reject_shared_directory=reject_shared_directory, unshare_directory=unshare_directory,
        describe_shared_directories=describe_shared_directories,
        enable_directory_data_access=enable_directory_data_access,
        disable_directory_data_access=disable_directory_data_access,
        describe_directory_data_access=describe_directory_data_access, reset_user_password=reset_user_password,
        describe_regions=describe_regions,
    )
    for name, function in added.items():
        setattr(B, name, function)


def _controller_rules(directory):
    """The rules AWS puts on the domain controllers' SG (AWS_FACTS section 2): inbound from the VPC CIDR,
    outbound all (moto's default egress rule)."""
    ec2 = ec2_backends[directory.account_id][directory.region]
    vpc_id = directory.vpc_settings["VpcId"]
    cidr = ec2.get_vpc(vpc_id).cidr_block
    rules = [("udp", *p) for p in CONTROLLER_UDP] + [("tcp", *p) for p in CONTROLLER_TCP] + [("icmp", -1, -1)]
    for protocol, low, high in rules:
        ec2.authorize_security_group_ingress(
            group_name_or_id=directory.security_group_id, ip_protocol=protocol, from_port=low, to_port=high,
            ip_ranges=[{"CidrIp": cidr, "Description": "AWS Managed Microsoft AD VPC IPv4 CIDR"}], vpc_id=vpc_id)


# --- trusts' state (AWS_FACTS section 8) --------------------------------------------------------

def _forwarders(directory):
    """{remote domain (lower case): ConditionalForwarder} of a directory: where it sends a remote domain's DNS."""
    return directory.__dict__.setdefault("lab_forwarders", {})


def _start_verification(trust, first):
    fault = LAB.faults.get("trust_verify_fail")
    reason = ""
    if fault:
        reason = fault if isinstance(fault, str) else (
            f"The specified domain either does not exist or could not be contacted: the trust with "
            f"{trust.remote_domain_name} could not be verified. Check the conditional forwarder, the network "
            "path and the trust password.")
    trust.__dict__.update(_lab_phases=(*first, "VerifyFailed" if fault else "Verified"),
                          _lab_phase_started=LAB.now(), _lab_fail_reason=reason)


def _trust_timeline(trust):
    state = trust.__dict__
    phases = state.get("_lab_phases")
    if phases is None:
        return state.get("_lab_state", "Creating"), None, state.get("_lab_reason", "")
    stage, since = _timed(state["_lab_phase_started"], LAB.knobs["trust_seconds"], phases)
    return stage, since, state["_lab_fail_reason"] if stage == "VerifyFailed" else ""


def _patch_trust():
    original_init = Trust.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _start_verification(self, ("Creating", "Created", "Verifying"))

    def set_state(self, value):
        self.__dict__.update(_lab_state=value, _lab_phases=None)

    def set_reason(self, value):
        self.__dict__["_lab_reason"] = value

    def get_time(self):
        since = _trust_timeline(self)[1]
        return _dt(since) if since is not None else self.__dict__.get("_lab_time", utcnow())

    def set_time(self, value):
        self.__dict__["_lab_time"] = value

    Trust.__init__ = __init__
    Trust.trust_state = property(lambda self: _trust_timeline(self)[0], set_state)
    Trust.trust_state_reason = property(lambda self: _trust_timeline(self)[2], set_reason)
    Trust.state_last_updated_date_time = property(get_time, set_time)
    Trust.last_updated_date_time = property(get_time, set_time)


# --- the response side: parameters in, model-shaped results out ---------------------------------

def _patch_responses():
    R = DirectoryServiceResponse

    def call_action(self):
        _purge(self.ds_backend)  # a finished deletion removes the directory before anything reads it
        return BaseResponse.call_action(self)

    def verify_trust(self):
        return ActionResult({"TrustId": self.ds_backend.verify_trust(self._get_param("TrustId"))})

    def share_directory(self):
        shared_id = self.ds_backend.share_directory(self._get_param("DirectoryId"), self._get_param("ShareTarget"),
                                                    self._get_param("ShareMethod"), self._get_param("ShareNotes"))
        return ActionResult({"SharedDirectoryId": shared_id})

    def accept_shared_directory(self):
        record = self.ds_backend.accept_shared_directory(self._get_param("SharedDirectoryId"))
        return ActionResult({"SharedDirectory": record})

    def reject_shared_directory(self):
        shared_id = self.ds_backend.reject_shared_directory(self._get_param("SharedDirectoryId"))
        return ActionResult({"SharedDirectoryId": shared_id})

    def unshare_directory(self):
        shared_id = self.ds_backend.unshare_directory(self._get_param("DirectoryId"), self._get_param("UnshareTarget"))
        return ActionResult({"SharedDirectoryId": shared_id})

    def describe_shared_directories(self):
        records = self.ds_backend.describe_shared_directories(self._get_param("OwnerDirectoryId"),
                                                              self._get_param("SharedDirectoryIds"))
        return ActionResult({"SharedDirectories": records})  # one page: a directory has at most 125 shares

    def enable_directory_data_access(self):
        self.ds_backend.enable_directory_data_access(self._get_param("DirectoryId"))
        return EmptyResult()

    def disable_directory_data_access(self):
        self.ds_backend.disable_directory_data_access(self._get_param("DirectoryId"))
        return EmptyResult()

    def describe_directory_data_access(self):
        status = self.ds_backend.describe_directory_data_access(self._get_param("DirectoryId"))
        return ActionResult({"DataAccessStatus": status})

    def describe_regions(self):
        regions = self.ds_backend.describe_regions(self._get_param("DirectoryId"), self._get_param("RegionName"))
        return ActionResult({"RegionsDescription": regions})

    def create_conditional_forwarder(self):
        self.ds_backend.create_conditional_forwarder(self._get_param("DirectoryId"), self._get_param("RemoteDomainName"),
                                                     self._get_param("DnsIpAddrs"))
        return EmptyResult()

    def update_conditional_forwarder(self):
        self.ds_backend.update_conditional_forwarder(self._get_param("DirectoryId"), self._get_param("RemoteDomainName"),
                                                     self._get_param("DnsIpAddrs"))
        return EmptyResult()

    def delete_conditional_forwarder(self):
        self.ds_backend.delete_conditional_forwarder(self._get_param("DirectoryId"), self._get_param("RemoteDomainName"))
        return EmptyResult()

    def describe_conditional_forwarders(self):
        found = self.ds_backend.describe_conditional_forwarders(self._get_param("DirectoryId"),
                                                                self._get_param("RemoteDomainNames"))
        return ActionResult({"ConditionalForwarders": found})

    def reset_user_password(self):
        self.ds_backend.reset_user_password(self._get_param("DirectoryId"), self._get_param("UserName"),
                                            self._get_param("NewPassword"))
        return EmptyResult()

    for function in (call_action, verify_trust, share_directory, accept_shared_directory, reject_shared_directory,
                     unshare_directory, describe_shared_directories, enable_directory_data_access,
                     disable_directory_data_access, describe_directory_data_access, reset_user_password,
                     describe_regions, create_conditional_forwarder, update_conditional_forwarder,
                     delete_conditional_forwarder, describe_conditional_forwarders):
        setattr(R, function.__name__, function)
    ds_responses._directory_description = _description(ds_responses._directory_description)


def install(lab, middleware):
    """Patch moto's ds classes once (middleware: unused, ds is a service moto has)."""
    global LAB
    LAB = lab
    trusts.install(lab)
    lab.knobs.setdefault("directory_delete_seconds", float(lab.env.get("LAB_DIRECTORY_DELETE_SECONDS", "1")))
    lab.knobs.setdefault("data_access_seconds", float(lab.env.get("LAB_DATA_ACCESS_SECONDS", "1")))
    if getattr(Directory, "_lab_patched", False):
        return
    Directory._lab_patched = True
    forget_previous_endpoint()
    original_init = Directory.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.__dict__["_lab_started"] = LAB.now()

    Directory.__init__ = __init__
    Directory.stage = property(_get_stage, _set_stage)
    Directory.stage_last_updated_date_time = property(_get_stage_time, _set_stage_time)
    Directory.lab_data_access = property(_get_data_access, _set_data_access)
    Directory.lab_data_access_since = property(_get_data_access_since)
    orig = {name: getattr(DirectoryServiceBackend, name) for name in
            ("_verify_subnets", "create_microsoft_ad", "delete_directory", "describe_directories", "create_trust",
             "delete_trust")}
    _patch_backend(orig)
    _patch_trust()
    _patch_responses()
