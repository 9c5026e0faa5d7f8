"""Directory Service Data (`ds-data`), which moto lacks entirely, backed by the lab's Samba AD over LDAPS.

Operations (AWS_FACTS.md section 7), each answered from the real directory:
  users        CreateUser, DescribeUser, UpdateUser, DisableUser, DeleteUser, ListUsers, SearchUsers
  groups       CreateGroup, DescribeGroup, UpdateGroup, DeleteGroup, ListGroups, SearchGroups
  membership   AddGroupMember, RemoveGroupMember, ListGroupMembers, ListGroupsForMember

Checked in this order, each with the error and Reason of the botocore model:
  - DirectoryId matches ^d-[0-9a-f]{10}$ (ValidationException) and names a directory of the caller's
    account and Region in moto's ds backend (account derived as moto does); otherwise
    AccessDeniedException DIRECTORY_AUTH, which the model gives for "the DirectoryId doesn't exist".
  - fault `ds_data_tps` (truthy): per directory, a token bucket at the documented rate (Standard
    4 write / 8 read TPS, Enterprise and Hybrid 8 / 16; reads are Describe*, List*, Search*) and at most
    10 requests in flight; beyond that ThrottlingException, HTTP 429, Retry-After: 1.
  - Type MicrosoftAD (a SharedMicrosoftAD consumer view too: ValidationException INVALID_DIRECTORY_TYPE);
    data access Enabled (`directory.lab_data_access`, kept by the ds extension; AccessDeniedException
    DATA_DISABLED); stage Active (`directory.stage`; DirectoryUnavailableException INVALID_DIRECTORY_STATE).
  - Realm / MemberRealm: the directory's domain (any case, trailing dot allowed); a trusted domain answers
    DirectoryUnavailableException TRUST_AUTH_FAILURE (the lab has no partner forest); anything else
    ValidationException INVALID_REALM.

What the calls do:
  - Writes run as the delegated Admin and only under OU=<NetBIOS> (AddGroupMember/RemoveGroupMember also
    on groups in OU=AWS Delegated Groups, which AWS itself writes: as Administrator here). Elsewhere:
    AccessDeniedException DIRECTORY_AUTH. Reads cover the whole domain.
  - CreateUser: CN=<name> in OU=Users,OU=<NetBIOS>, userPrincipalName <name>@<REALM>, no password,
    disabled (userAccountControl 514); `ds ResetUserPassword` sets the password and enables it.
    CreateGroup: same OU; groupType from GroupType (default Security) and GroupScope (default Global);
    BuiltinLocal can't be created. An existing sAMAccountName (user, group or computer): ConflictException.
  - ClientToken: remembered 8 hours after a success; the same token and input answer the first result
    again without touching AD, another input answers ConflictException.
  - UpdateUser/UpdateGroup: UpdateType ADD (attributeOrValueExists -> ATTRIBUTE_EXISTS), REPLACE
    (the default), REMOVE (clears an attribute; removes the given values from an SS; an absent attribute
    -> MISSING_ATTRIBUTE). OtherAttributes are checked against AD's schema: unknown -> INVALID_ATTRIBUTE_NAME,
    read-only -> INVALID_ATTRIBUTE_FOR_USER/_GROUP (create) or _FOR_MODIFY (update), a request parameter's
    attribute -> INVALID_ATTRIBUTE_NAME, not in the object class -> INVALID_ATTRIBUTE_FOR_USER/_GROUP,
    wrong type -> INVALID_ATTRIBUTE_VALUE. Values come back as N (integers), BOOL, SS (multi-valued) or S.
  - AddGroupMember of a member already there: ConflictException (the model's ConflictException says so);
    RemoveGroupMember of a non-member: ResourceNotFoundException. DisableUser of a disabled user: success.
  - List*/Search*: sorted by sAMAccountName, MaxResults 1-250 (default 250), NextToken signed and bound to
    the operation and its input (else INVALID_NEXT_TOKEN). Search: case-insensitive "contains" on string
    attributes; `*` refused; non-string or non-searchable attributes -> INVALID_ATTRIBUTE_FOR_SEARCH.

LDAP connections are pooled (the first one, from lab.ldap(), lends its Server object and schema), and a
changed Admin password (ResetUserPassword on Admin) retires the old ones.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import traceback
import uuid

import ldap3
from ldap3.core import exceptions as lx
from ldap3.protocol.formatters.formatters import format_sid
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from .middleware import LabAPIError

SERVICE = "ds-data"
IDEMPOTENCY_SECONDS = 8 * 3600

# Documented limits per directory (AWS_FACTS.md section 7): (write TPS, read TPS).
TPS = {"Standard": (4, 8), "Enterprise": (8, 16), "Hybrid": (8, 16)}
MAX_IN_FLIGHT = 10

# userAccountControl and groupType bits (MS-ADTS 2.2.16, 2.2.12).
UAC_ACCOUNTDISABLE = 0x2
UAC_NORMAL_ACCOUNT = 0x200
GROUP_SCOPES = {"BuiltinLocal": 0x1, "Global": 0x2, "DomainLocal": 0x4, "Universal": 0x8}
GROUP_SECURITY = 0x80000000

# Request shapes' patterns and limits, from the botocore model (botocore checks only required and
# minimums on the client side; the service checks the rest).
DIRECTORY_ID = re.compile(r"^d-[0-9a-f]{10}$")
USER_NAME = re.compile(r"^[\w\-.]+$")
GROUP_NAME = re.compile(r'^[^:;|=+"*?<>/\\,\[\]@]+$')
REALM = re.compile(r"^([a-zA-Z0-9]+[\\.-])+([a-zA-Z0-9])+[.]?$")
LDAP_DISPLAY_NAME = re.compile(r"^[A-Za-z*][A-Za-z-*]*$")

# AD attribute syntaxes (as LDAP syntax OIDs in AD's subschema).
SYNTAX_BOOLEAN = "1.3.6.1.4.1.1466.115.121.1.7"
SYNTAX_INTEGERS = {"1.3.6.1.4.1.1466.115.121.1.27", "1.2.840.113556.1.4.906"}
SYNTAX_OCTETS = "1.3.6.1.4.1.1466.115.121.1.40"
SYNTAX_STRINGS = {"1.3.6.1.4.1.1466.115.121.1.15", "1.3.6.1.4.1.1466.115.121.1.26",
                  "1.3.6.1.4.1.1466.115.121.1.44", "1.3.6.1.4.1.1466.115.121.1.36",
                  "1.2.840.113556.1.4.905"}
# Multi-valued in the schema, single-valued on SAM objects: returned as S, not SS.
SAM_SINGLE_VALUED = {"description"}

# Attributes that are request parameters (AWS's "Request Attributes" table): not in OtherAttributes.
PARAMETER_ATTRIBUTES = {
    "user": {"samaccountname": "SAMAccountName", "givenname": "GivenName", "sn": "Surname", "mail": "EmailAddress"},
    "group": {"samaccountname": "SAMAccountName", "grouptype": "GroupType and GroupScope"},
}
# Read-only through the API (the table's ReadOnly rows, plus what the API manages itself or AD guards).
READ_ONLY_ATTRIBUTES = {
    "distinguishedname", "objectsid", "userprincipalname", "objectguid", "objectclass", "objectcategory",
    "cn", "name", "member", "memberof", "useraccountcontrol", "unicodepwd", "userpassword", "pwdlastset",
    "primarygroupid", "ntsecuritydescriptor", "admincount", "iscriticalsystemobject", "sidhistory",
    "whencreated", "whenchanged", "usncreated", "usnchanged", "badpwdcount", "badpasswordtime",
    "lastlogon", "lastlogontimestamp", "logoncount", "samaccounttype", "instancetype",
}
# OtherAttributes AWS accepts: its "Directory Service Data attributes" page lists them, anything else is
# ValidationException INVALID_ATTRIBUTE_NAME (AWS_FACTS.md section 7). That page's "Other Attributes" table
# could not be read; these are the names AWS uses in its own ds-data API examples, plus
# msDS-SupportedEncryptionTypes (not verified; aurora.kerberos.ad_user writes it). Lower case.
DOCUMENTED_ATTRIBUTES = frozenset(
    "co department homephone ipphone manager physicaldeliveryofficename postalcode pwdlastset st streetaddress "
    "telephonenumber description displayname objectguid preferredlanguage msds-supportedencryptiontypes".split())
# Not searchable per AWS's attribute table (besides every non-string syntax).
NOT_SEARCHABLE = {"distinguishedname", "objectsid", "userprincipalname"}

OPERATIONS = {
    # name: (method, writes)
    "CreateUser": ("create_user", True), "DescribeUser": ("describe_user", False),
    "UpdateUser": ("update_user", True), "DisableUser": ("disable_user", True),
    "DeleteUser": ("delete_user", True), "ListUsers": ("list_users", False),
    "SearchUsers": ("search_users", False),
    "CreateGroup": ("create_group", True), "DescribeGroup": ("describe_group", False),
    "UpdateGroup": ("update_group", True), "DeleteGroup": ("delete_group", True),
    "ListGroups": ("list_groups", False), "SearchGroups": ("search_groups", False),
    "AddGroupMember": ("add_group_member", True), "RemoveGroupMember": ("remove_group_member", True),
    "ListGroupMembers": ("list_group_members", False), "ListGroupsForMember": ("list_groups_for_member", False),
}

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/")


class DataError(LabAPIError):
    """An error of the ds-data model: its Reason and headers travel with it (LabAPIError has neither)."""

    STATUS = {"AccessDeniedException": 403, "ConflictException": 409, "ResourceNotFoundException": 404,
              "ValidationException": 400, "DirectoryUnavailableException": 400, "ThrottlingException": 429,
              "InternalServerException": 500}

    def __init__(self, code, message, reason=None, headers=None):
        super().__init__(code, message, self.STATUS[code])
        self.reason = reason
        self.headers = headers or {}

    def response(self):
        body = {"message": self.message, "Message": self.message}
        if self.reason:
            body["Reason"] = self.reason
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": self.code,
                   "x-amzn-RequestId": str(uuid.uuid4()), **self.headers}
        return self.status, headers, json.dumps(body).encode()


def validation(message, reason=None):
    return DataError("ValidationException", message, reason)


def not_found(message):
    return DataError("ResourceNotFoundException", message)


def denied(message, reason="DIRECTORY_AUTH"):
    return DataError("AccessDeniedException", message, reason)


def conflict(message):
    return DataError("ConflictException", message)


# --- throttling ---------------------------------------------------------------------------------

class TokenBucket:
    def __init__(self, rate):
        self.rate = float(rate)
        self.tokens = float(rate)
        self.stamp = time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Throttle:
    """Per directory: one bucket for writes, one for reads, and the in-flight count."""

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets = {}
        self._in_flight = {}

    def enter(self, directory_id, edition, writes):
        rates = TPS.get(edition or "Enterprise", TPS["Enterprise"])
        rate = rates[0] if writes else rates[1]
        key = (directory_id, writes)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.rate != rate:
                bucket = self._buckets[key] = TokenBucket(rate)
            if self._in_flight.get(directory_id, 0) >= MAX_IN_FLIGHT:
                raise DataError("ThrottlingException", f"Rate exceeded: more than {MAX_IN_FLIGHT} concurrent "
                                "requests for this directory", headers={"Retry-After": "1"})
            if not bucket.take():
                kind = "write" if writes else "read"
                raise DataError("ThrottlingException", f"Rate exceeded: {rate:g} {kind} requests per second for "
                                f"a {edition or 'Enterprise'} directory", headers={"Retry-After": "1"})
            self._in_flight[directory_id] = self._in_flight.get(directory_id, 0) + 1

    def leave(self, directory_id):
        with self._lock:
            self._in_flight[directory_id] = max(self._in_flight.get(directory_id, 1) - 1, 0)

    def reset(self):
        with self._lock:
            self._buckets.clear()


# --- the service --------------------------------------------------------------------------------

class Call:
    """One request, resolved: its moto directory and its JSON body."""

    def __init__(self, request, directory, body):
        self.request = request
        self.directory = directory
        self.body = body
        self.directory_id = directory.directory_id
        self.realm = directory.name


class DirectoryData:
    def __init__(self, lab):
        self.lab = lab
        self.throttle = Throttle()
        self._tokens = {}  # (account, directory, operation, token) -> (fingerprint, expires, response)
        self._tokens_lock = threading.Lock()
        self._write_lock = threading.RLock()  # one AD behind every directory: writes in turn
        self._server = None
        self._server_lock = threading.Lock()
        self._pool = {}  # (user, password) -> idle bound connections
        self._pool_lock = threading.Lock()
        self._token_key = secrets.token_bytes(32)  # signs NextTokens; a restarted endpoint forgets them
        self.fresh = {}  # (directory id, lower-case user name) -> until when a new user is not seen yet
        self._fresh_lock = threading.Lock()

    # --- the WSGI-side entry ------------------------------------------------------------------

    def handle(self, request):
        try:
            return self._handle(request)
        except DataError as exc:
            return exc.response()
        except LabAPIError:
            raise
        except Exception as exc:  # a lab bug: answer as AWS would, keep the trace in the endpoint's log
            traceback.print_exc()
            return DataError("InternalServerException", f"{type(exc).__name__}: {exc}").response()

    def _handle(self, request):
        if request.operation not in OPERATIONS:
            raise LabAPIError("UnknownOperationException", f"ds-data has no operation at {request.method} "
                              f"{request.path}", 404)
        method, writes = OPERATIONS[request.operation]
        try:
            body = request.json()
        except ValueError:
            raise LabAPIError("SerializationException", "The request body is not valid JSON", 400) from None
        if not isinstance(body, dict):
            raise LabAPIError("SerializationException", "The request body must be a JSON object", 400)
        account, region = self._account_and_region(request)
        directory_id = request.query.get("DirectoryId", "")
        if not DIRECTORY_ID.match(directory_id):
            raise validation(f"Invalid DirectoryId {directory_id!r}: it must match ^d-[0-9a-f]{{10}}$")
        directory = self._directory(account, region, directory_id)
        tps = self.lab.faults.get("ds_data_tps")
        if tps:
            self.throttle.enter(directory_id, getattr(directory, "edition", None), writes)
        try:
            self._check_directory(directory)
            call = Call(request, directory, body)
            if not writes:
                return self._ok(getattr(self, method)(call))
            return self._idempotent(account, call, lambda: self._ok(getattr(self, method)(call)))
        finally:
            if tps:
                self.throttle.leave(directory_id)

    @staticmethod
    def _ok(payload):
        body = json.dumps({k: v for k, v in payload.items() if v is not None}).encode()
        return 200, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}, body

    # --- the directory in moto ----------------------------------------------------------------

    def _account_and_region(self, request):
        """The caller's account the way moto derives it (core/responses.py get_current_account)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.iam.models import get_account_id_from

        match = _CREDENTIAL.search(request.headers.get("authorization", ""))
        region = match.group(2) if match else self.lab.region
        if "MOTO_ACCOUNT_ID" in os.environ:
            return os.environ["MOTO_ACCOUNT_ID"], region
        if "x-moto-account-id" in request.headers:
            return request.headers["x-moto-account-id"], region
        return (get_account_id_from(match.group(1)) if match else DEFAULT_ACCOUNT_ID), region

    @staticmethod
    def _directory(account, region, directory_id):
        from moto.ds.models import ds_backends

        directory = None
        if account in ds_backends and region in ds_backends[account].regions:
            directory = ds_backends[account][region].directories.get(directory_id)
        if directory is None:
            raise denied(f"Directory {directory_id} does not exist, or you can't access it.")
        return directory

    def _check_directory(self, directory):
        if directory.directory_type != "MicrosoftAD":
            raise validation(f"Directory {directory.directory_id} is not an AWS Managed Microsoft AD: Directory "
                             "Service Data works only with Managed Microsoft AD.", "INVALID_DIRECTORY_TYPE")
        # After EnableDirectoryDataAccess, ds-data sees it knob dsdata_consistency_delay seconds after ds says
        # Enabled (AWS_FACTS.md section 7, eventual consistency; the length is the lab's [inferred]).
        since = getattr(directory, "lab_data_access_since", None)
        delay = float(self.lab.knobs.get("dsdata_consistency_delay", 0) or 0)
        settling = since is not None and self.lab.now() < since + delay
        if getattr(directory, "lab_data_access", None) != "Enabled" or settling:
            raise denied(f"Directory data access is disabled for {directory.directory_id}: call "
                         "ds EnableDirectoryDataAccess first.", "DATA_DISABLED")
        stage = getattr(directory, "stage", "Active")
        if stage != "Active":
            raise DataError("DirectoryUnavailableException", f"Directory {directory.directory_id} is {stage}, "
                            "not Active.", "INVALID_DIRECTORY_STATE")
        if directory.name.lower().rstrip(".") != self.lab.ad_domain.lower():
            raise DataError("DirectoryUnavailableException", f"The lab has one directory's domain controllers "
                            f"({self.lab.ad_domain}); {directory.name} has none.", "INVALID_DIRECTORY_STATE")

    def _check_realm(self, call, field):
        realm = call.body.get(field)
        if realm is None:
            return
        if not isinstance(realm, str) or not 1 <= len(realm) <= 255 or not REALM.match(realm):
            raise validation(f"Invalid {field} {realm!r}", "INVALID_REALM")
        name = realm.lower().rstrip(".")
        if name == call.realm.lower().rstrip("."):
            return
        for trust in getattr(call.directory, "trusts", []):
            if trust.remote_domain_name.lower().rstrip(".") == name:
                raise DataError("DirectoryUnavailableException", f"The lab has no domain controllers for the "
                                f"trusted realm {realm}.", "TRUST_AUTH_FAILURE")
        raise validation(f"{field} {realm} is neither the directory's domain nor a trusted one.", "INVALID_REALM")

    # --- idempotency --------------------------------------------------------------------------

    def _idempotent(self, account, call, run):
        token = call.body.get("ClientToken")
        if token is None:
            with self._write_lock:
                return run()
        if not isinstance(token, str) or not 1 <= len(token) <= 128 or not token.isascii():
            raise validation("Invalid ClientToken: 1-128 ASCII characters")
        key = (account, call.directory_id, call.request.operation, token)
        fingerprint = hashlib.sha256(json.dumps({k: v for k, v in call.body.items() if k != "ClientToken"},
                                                sort_keys=True).encode()).hexdigest()
        with self._write_lock:
            now = time.time()
            with self._tokens_lock:
                for stale in [k for k, v in self._tokens.items() if v[1] < now]:
                    del self._tokens[stale]
                seen = self._tokens.get(key)
            if seen:
                if seen[0] != fingerprint:
                    raise conflict(f"ClientToken {token} was already used with different parameters for "
                                   f"{call.request.operation}.")
                status, headers, body = seen[2]
                return status, {**headers, "x-amzn-RequestId": str(uuid.uuid4())}, body
            result = run()
            with self._tokens_lock:
                self._tokens[key] = (fingerprint, time.time() + IDEMPOTENCY_SECONDS, result)
            return result

    # --- LDAP -------------------------------------------------------------------------------

    def _ensure_server(self):
        """The Server object of lab.ldap(), kept: it holds the schema, read once instead of at every bind."""
        with self._server_lock:
            if self._server is None:
                try:
                    first = self.lab.ldap()
                except lx.LDAPException as exc:
                    raise DataError("DirectoryUnavailableException", f"The directory's domain controllers did "
                                    f"not answer: {exc}", "DIRECTORY_TIMEOUT") from None
                self._server = first.server
                first.unbind()
        return self._server

    def _credentials(self, administrator):
        if administrator:
            return "Administrator", self.lab.administrator_password
        return self.lab.ad_admin_user, self.lab.ad_admin_password

    def _connect(self, credentials):
        """A new bound connection: as the delegated Admin, as lab.ldap() does (Administrator only for what
        AWS itself does)."""
        server = self._ensure_server()
        user, password = credentials
        try:
            conn = ldap3.Connection(server, user=f"{user}@{self.lab.ad_realm}", password=password,
                                    raise_exceptions=True)
            conn.bind(read_server_info=False)
            return conn
        except lx.LDAPException as exc:
            raise DataError("DirectoryUnavailableException", f"The directory's domain controllers did not "
                            f"answer: {exc}", "DIRECTORY_TIMEOUT") from None

    @property
    def schema(self):
        return self._ensure_server().schema

    @property
    def corp_ou(self):
        return self.lab.ad_users_ou.split(",", 1)[1]  # OU=<NetBIOS>,DC=...

    @property
    def delegated_groups_ou(self):
        return f"OU=AWS Delegated Groups,{self.lab.ad_base_dn}"

    @staticmethod
    def _under(dn, ou):
        return dn.lower().endswith("," + ou.lower())

    def _search(self, conn, flt, attributes):
        results = conn.extend.standard.paged_search(self.lab.ad_base_dn, flt, attributes=attributes,
                                                    paged_size=500, generator=False)
        return [r for r in results if r.get("type") == "searchResEntry"]

    def _ldap_errors(self, exc, subject="object", kind="user"):
        """An LDAP failure as the ds-data error AWS would give."""
        text = getattr(exc, "message", None) or str(exc)
        if isinstance(exc, lx.LDAPInsufficientAccessRightsResult):
            return denied(f"Access to {subject} is denied: it is outside your organizational unit.")
        if isinstance(exc, (lx.LDAPEntryAlreadyExistsResult,)):
            return conflict(f"{subject} already exists: {text}")
        if isinstance(exc, lx.LDAPObjectClassViolationResult):
            return validation(f"An attribute does not apply to a {kind}: {text}",
                              "INVALID_ATTRIBUTE_FOR_GROUP" if kind == "group" else "INVALID_ATTRIBUTE_FOR_USER")
        if isinstance(exc, lx.LDAPAttributeOrValueExistsResult):
            return validation(f"The attribute already has a value: {text}", "ATTRIBUTE_EXISTS")
        if isinstance(exc, lx.LDAPNoSuchAttributeResult):
            return validation(f"The attribute has no such value: {text}", "MISSING_ATTRIBUTE")
        if isinstance(exc, (lx.LDAPUndefinedAttributeTypeResult, lx.LDAPAttributeError)):
            return validation(f"Unknown attribute: {text}", "INVALID_ATTRIBUTE_NAME")
        if isinstance(exc, (lx.LDAPInvalidAttributeSyntaxResult, lx.LDAPConstraintViolationResult,
                            lx.LDAPInvalidValueError, lx.LDAPInappropriateMatchingResult)):
            return validation(f"Invalid attribute value: {text}", "INVALID_ATTRIBUTE_VALUE")
        if isinstance(exc, lx.LDAPUnwillingToPerformResult):
            return validation(f"The directory refused the operation: {text}", "LDAP_UNSUPPORTED_OPERATION")
        if isinstance(exc, lx.LDAPSizeLimitExceededResult):
            return validation(text, "LDAP_SIZE_LIMIT_EXCEEDED")
        if isinstance(exc, (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError, lx.LDAPSocketSendError,
                            lx.LDAPSessionTerminatedByServerError, lx.LDAPTimeLimitExceededResult)):
            return DataError("DirectoryUnavailableException", f"The directory did not answer: {text}",
                             "DIRECTORY_TIMEOUT")
        return DataError("InternalServerException", f"{type(exc).__name__}: {text}")

    def _ldap(self, action, subject, kind="user", administrator=False):
        """Run action(conn) on a bound connection; LDAP failures become ds-data errors.

        Bound connections are kept for the next call (a bind over TLS costs more than most calls); one
        the DC has dropped is replaced once. A changed password (ResetUserPassword on Admin) retires them."""
        credentials = self._credentials(administrator)
        with self._pool_lock:
            idle = self._pool.get(credentials, [])
            conn = idle.pop() if idle else None
        for attempt in (1, 2):
            fresh = conn is None
            if fresh:
                conn = self._connect(credentials)
            try:
                result = action(conn)
            except DataError:
                self._give_back(credentials, conn)
                raise
            except (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError, lx.LDAPSocketSendError,
                    lx.LDAPSessionTerminatedByServerError) as exc:
                self._drop(conn)
                conn = None
                if fresh or attempt == 2:
                    raise self._ldap_errors(exc, subject, kind) from None
                continue
            except lx.LDAPException as exc:
                self._give_back(credentials, conn)
                raise self._ldap_errors(exc, subject, kind) from None
            self._give_back(credentials, conn)
            return result

    def _give_back(self, credentials, conn):
        with self._pool_lock:
            if credentials == self._credentials(credentials[0] == "Administrator") and conn.bound:
                for stale in [key for key in self._pool if key[0] == credentials[0] and key != credentials]:
                    for old in self._pool.pop(stale):
                        self._drop(old)
                self._pool.setdefault(credentials, []).append(conn)
                return
        self._drop(conn)

    @staticmethod
    def _drop(conn):
        try:
            conn.unbind()
        except Exception:  # already gone
            pass

    # --- attributes ---------------------------------------------------------------------------

    def _attribute_type(self, name):
        if not isinstance(name, str) or not 1 <= len(name) <= 63 or not LDAP_DISPLAY_NAME.match(name):
            raise validation(f"Invalid attribute name {name!r}", "INVALID_ATTRIBUTE_NAME")
        info = self.schema.attribute_types.get(name) if self.schema else None
        if info is None:
            raise validation(f"Unknown attribute {name}", "INVALID_ATTRIBUTE_NAME")
        return info

    def _requested_attributes(self, names):
        """DescribeUser/DescribeGroup OtherAttributes: a list of LDAP display names."""
        if names is None:
            return []
        if not isinstance(names, list) or not 1 <= len(names) <= 25:
            raise validation("OtherAttributes must list 1 to 25 attribute names")
        for name in names:
            self._documented(name)
        return [self._attribute_type(name).name[0] for name in names]

    @staticmethod
    def _documented(name):
        if isinstance(name, str) and LDAP_DISPLAY_NAME.match(name) and name.lower() not in DOCUMENTED_ATTRIBUTES:
            raise validation(f"Attribute {name} is not a Directory Service Data attribute: see "
                             "https://docs.aws.amazon.com/directoryservice/latest/admin-guide/ad_data_attributes.html",
                             "INVALID_ATTRIBUTE_NAME")

    def _write_values(self, attributes, kind, creating):
        """OtherAttributes of Create*/Update*: {name: AttributeValue} -> {canonical name: (LDAP values, is_set)}."""
        if attributes is None:
            return {}
        if not isinstance(attributes, dict) or not 1 <= len(attributes) <= 25:
            raise validation("OtherAttributes must hold 1 to 25 attributes")
        seen = {}
        for name, value in attributes.items():
            lowered = name.lower() if isinstance(name, str) else name
            if lowered in PARAMETER_ATTRIBUTES[kind]:
                raise validation(f"{name} is set through the {PARAMETER_ATTRIBUTES[kind][lowered]} parameter, not "
                                 "OtherAttributes", "INVALID_ATTRIBUTE_NAME")
            self._documented(name)
            info = self._attribute_type(name)
            canonical = info.name[0]
            if canonical.lower() in seen:
                raise validation(f"Attribute {canonical} is given more than once", "DUPLICATE_ATTRIBUTE")
            if canonical.lower() in READ_ONLY_ATTRIBUTES or info.no_user_modification:
                if creating:
                    reason = "INVALID_ATTRIBUTE_FOR_GROUP" if kind == "group" else "INVALID_ATTRIBUTE_FOR_USER"
                else:
                    reason = "INVALID_ATTRIBUTE_FOR_MODIFY"
                raise validation(f"Attribute {canonical} is read-only", reason)
            if not isinstance(value, dict) or len(value) != 1:
                raise validation(f"Attribute {canonical}: give exactly one of S, N, BOOL, SS",
                                 "INVALID_ATTRIBUTE_VALUE")
            (tag, raw), = value.items()
            multi = not info.single_value and canonical.lower() not in SAM_SINGLE_VALUED
            if tag == "S" and isinstance(raw, str) and 1 <= len(raw) <= 1024:
                values = [raw]
            elif tag == "N" and isinstance(raw, int) and not isinstance(raw, bool):
                values = [raw]
            elif tag == "BOOL" and isinstance(raw, bool):
                values = ["TRUE" if raw else "FALSE"]
            elif tag == "SS" and isinstance(raw, list) and len(raw) <= 25 and all(
                    isinstance(v, str) and 1 <= len(v) <= 1024 for v in raw):
                if not multi and len(raw) > 1:
                    raise validation(f"Attribute {canonical} holds one value, not a set", "INVALID_ATTRIBUTE_VALUE")
                values = list(raw)
            else:
                raise validation(f"Attribute {canonical}: invalid {tag} value", "INVALID_ATTRIBUTE_VALUE")
            if info.syntax in SYNTAX_INTEGERS and tag not in ("N",):
                raise validation(f"Attribute {canonical} is a number: use N", "INVALID_ATTRIBUTE_VALUE")
            if info.syntax == SYNTAX_BOOLEAN and tag != "BOOL":
                raise validation(f"Attribute {canonical} is a boolean: use BOOL", "INVALID_ATTRIBUTE_VALUE")
            if tag in ("N", "BOOL") and info.syntax not in SYNTAX_INTEGERS | {SYNTAX_BOOLEAN}:
                raise validation(f"Attribute {canonical} is a string: use S or SS", "INVALID_ATTRIBUTE_VALUE")
            seen[canonical.lower()] = (canonical, values, tag == "SS")
        return {canonical: (values, is_set) for canonical, values, is_set in seen.values()}

    def _read_value(self, name, entry):
        """One attribute of a search result as an AttributeValue, or None when absent."""
        info = self.schema.attribute_types.get(name)
        raw = entry["raw_attributes"].get(name) or []
        formatted = entry["attributes"].get(name)
        if not raw:
            return None
        values = formatted if isinstance(formatted, list) else [formatted]
        if info is not None and info.syntax == SYNTAX_BOOLEAN:
            return {"BOOL": bool(values[0])}
        if info is not None and info.syntax in SYNTAX_INTEGERS and info.single_value:
            try:
                return {"N": int(raw[0])}
            except ValueError:
                pass
        texts = []
        for value, raw_value in zip(values, raw):
            if isinstance(value, str):
                texts.append(value)
            elif info is not None and info.syntax == SYNTAX_OCTETS:
                texts.append(base64.b64encode(raw_value).decode())
            else:
                texts.append(raw_value.decode("utf-8", "replace"))
        if info is not None and (not info.single_value) and name.lower() not in SAM_SINGLE_VALUED:
            return {"SS": texts}
        return {"S": texts[0]}

    def _other_attributes(self, names, entry):
        found = {}
        for name in names:
            value = self._read_value(name, entry)
            if value is not None:
                found[name] = value
        return found or None

    # --- finding objects ----------------------------------------------------------------------

    USER_FILTER = "(&(objectCategory=person)(objectClass=user)(sAMAccountName={}))"
    GROUP_FILTER = "(&(objectClass=group)(sAMAccountName={}))"
    MEMBER_FILTER = "(&(|(objectClass=user)(objectClass=group))(sAMAccountName={}))"
    USER_ATTRIBUTES = ["sAMAccountName", "givenName", "sn", "mail", "userPrincipalName", "objectSid",
                       "userAccountControl", "distinguishedName"]
    GROUP_ATTRIBUTES = ["sAMAccountName", "groupType", "objectSid", "distinguishedName"]

    def _find(self, conn, template, name, attributes):
        found = self._search(conn, template.format(escape_filter_chars(name)), attributes)
        return found[0] if found else None

    def _user_name(self, call, field="SAMAccountName"):
        name = call.body.get(field)
        if not isinstance(name, str) or not 1 <= len(name) <= 20 or not USER_NAME.match(name):
            raise validation(f"Invalid {field} {name!r}: 1-20 characters of letters, digits, _ - and .")
        return name

    def _group_name(self, call, field="SAMAccountName", limit=64):
        name = call.body.get(field)
        if not isinstance(name, str) or not 1 <= len(name) <= limit or not GROUP_NAME.match(name):
            raise validation(f"Invalid {field} {name!r}")
        return name

    def _string(self, call, field, limit):
        value = call.body.get(field)
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= limit):
            raise validation(f"Invalid {field}: 1-{limit} characters")
        return value

    def _enum(self, call, field, allowed):
        value = call.body.get(field)
        if value is not None and value not in allowed:
            raise validation(f"Invalid {field} {value!r}: one of {', '.join(allowed)}")
        return value

    @staticmethod
    def _one(entry, name):
        value = entry["attributes"].get(name)
        if isinstance(value, list):
            return value[0] if value else None
        return value if value not in ("", b"") else None

    def _sid(self, entry):
        value = self._one(entry, "objectSid")
        if isinstance(value, bytes):
            value = format_sid(value)
        return value

    def _user(self, entry, full=True):
        uac = self._one(entry, "userAccountControl") or 0
        user = {"SAMAccountName": self._one(entry, "sAMAccountName"), "SID": self._sid(entry),
                "Enabled": not int(uac) & UAC_ACCOUNTDISABLE, "GivenName": self._one(entry, "givenName"),
                "Surname": self._one(entry, "sn")}
        if full:
            user.update({"DistinguishedName": entry["dn"], "EmailAddress": self._one(entry, "mail"),
                         "UserPrincipalName": self._one(entry, "userPrincipalName")})
        return {k: v for k, v in user.items() if v is not None}

    @staticmethod
    def _group_kind(group_type):
        value = int(group_type or 0) & 0xFFFFFFFF
        kind = "Security" if value & GROUP_SECURITY else "Distribution"
        for scope in ("BuiltinLocal", "DomainLocal", "Global", "Universal"):
            if value & GROUP_SCOPES[scope]:
                return kind, scope
        return kind, "Global"

    @staticmethod
    def _group_type_value(kind, scope):
        value = GROUP_SCOPES[scope] | (GROUP_SECURITY if kind == "Security" else 0)
        return value - (1 << 32) if value >= 1 << 31 else value  # groupType is a signed 32-bit integer

    def _group(self, entry, full=True):
        kind, scope = self._group_kind(self._one(entry, "groupType"))
        group = {"SAMAccountName": self._one(entry, "sAMAccountName"), "SID": self._sid(entry),
                 "GroupType": kind, "GroupScope": scope}
        if full:
            group["DistinguishedName"] = entry["dn"]
        return group

    def _require_user(self, conn, name, attributes=None):
        entry = self._find(conn, self.USER_FILTER, name, attributes or self.USER_ATTRIBUTES)
        if entry is None:
            raise not_found(f"User {name} does not exist.")
        return entry

    def _require_group(self, conn, name, attributes=None):
        entry = self._find(conn, self.GROUP_FILTER, name, attributes or self.GROUP_ATTRIBUTES)
        if entry is None:
            raise not_found(f"Group {name} does not exist.")
        return entry

    def _require_writable(self, dn, what, extra_ou=None):
        if self._under(dn, self.corp_ou) or (extra_ou and self._under(dn, extra_ou)):
            return
        raise denied(f"{what} is outside your organizational unit ({self.corp_ou}).")

    def _taken(self, conn, name):
        return bool(self._search(conn, f"(sAMAccountName={escape_filter_chars(name)})", ["sAMAccountName"]))

    # --- pagination ---------------------------------------------------------------------------

    def _page(self, call, items, key, scope):
        """A page of items sorted by key; NextToken is signed and bound to the operation and its input."""
        limit = call.body.get("MaxResults")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 250):
            raise validation("MaxResults must be between 1 and 250")
        limit = limit or 250
        items = sorted(items, key=lambda item: key(item).lower())
        token = call.body.get("NextToken")
        after = None
        if token is not None:
            after = self._read_token(token, call, scope)
            items = [item for item in items if key(item).lower() > after]
        page, rest = items[:limit], items[limit:]
        next_token = self._make_token(call, scope, key(page[-1]).lower()) if rest else None
        return page, next_token

    def _token_scope(self, call, scope):
        return f"{call.directory_id}|{call.request.operation}|{scope}"

    def _make_token(self, call, scope, after):
        payload = json.dumps({"s": self._token_scope(call, scope), "a": after}).encode()
        mac = hmac.new(self._token_key, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac + payload).decode()

    def _read_token(self, token, call, scope):
        try:
            data = base64.urlsafe_b64decode(token.encode())
            mac, payload = data[:16], data[16:]
            if not hmac.compare_digest(mac, hmac.new(self._token_key, payload, hashlib.sha256).digest()[:16]):
                raise ValueError
            values = json.loads(payload)
            if values["s"] != self._token_scope(call, scope):
                raise ValueError
            return values["a"]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise validation("Invalid NextToken", "INVALID_NEXT_TOKEN") from None

    # --- users --------------------------------------------------------------------------------

    def create_user(self, call):
        name = self._user_name(call)
        values = {"GivenName": self._string(call, "GivenName", 64), "Surname": self._string(call, "Surname", 64),
                  "EmailAddress": self._string(call, "EmailAddress", 256)}
        others = self._write_values(call.body.get("OtherAttributes"), "user", creating=True)
        dn = f"CN={escape_rdn(name)},{self.lab.ad_users_ou}"
        attributes = {"sAMAccountName": name, "userPrincipalName": f"{name}@{self.lab.ad_realm}",
                      # No password: disabled until ds ResetUserPassword sets one (AWS_FACTS.md section 7).
                      "userAccountControl": UAC_NORMAL_ACCOUNT | UAC_ACCOUNTDISABLE}
        for field, attribute in (("GivenName", "givenName"), ("Surname", "sn"), ("EmailAddress", "mail")):
            if values[field] is not None:
                attributes[attribute] = values[field]
        for attribute, (vals, dummy) in others.items():
            attributes[attribute] = vals if len(vals) != 1 else vals[0]

        def create(conn):
            if self._taken(conn, name):
                raise conflict(f"An object named {name} already exists.")
            conn.add(dn, ["top", "person", "organizationalPerson", "user"], attributes)
            return self._require_user(conn, name)

        entry = self._ldap(create, f"user {name}")
        self._created(call.directory_id, name)
        return {"DirectoryId": call.directory_id, "SAMAccountName": name, "SID": self._sid(entry)}

    # --- eventual consistency (AWS_FACTS.md section 7) ----------------------------------------------
    # "You can expect a short delay": for knob dsdata_consistency_delay seconds after CreateUser, the new
    # user is not found yet (ds-data ResourceNotFoundException; ds ResetUserPassword, in fidelity/ds.py,
    # UserDoesNotExistException) [inferred: which calls, and for how long]. A ClientToken replay is no
    # new creation.

    def _created(self, directory_id, name):
        delay = float(self.lab.knobs.get("dsdata_consistency_delay", 0) or 0)
        now = self.lab.now()
        with self._fresh_lock:
            for key in [k for k, until in self.fresh.items() if until <= now]:
                self.fresh.pop(key, None)
            if delay > 0:
                self.fresh[(directory_id, name.lower())] = now + delay

    def is_fresh(self, directory_id, name):
        with self._fresh_lock:
            return self.fresh.get((directory_id, (name or "").lower()), 0) > self.lab.now()

    def _settling_user(self, call, name, what="User"):
        if self.is_fresh(call.directory_id, name):
            raise not_found(f"{what} {name} does not exist.")

    def describe_user(self, call):
        self._check_realm(call, "Realm")
        name = self._user_name(call)
        self._settling_user(call, name)
        others = self._requested_attributes(call.body.get("OtherAttributes"))
        entry = self._ldap(lambda conn: self._require_user(conn, name, self.USER_ATTRIBUTES + others), f"user {name}")
        return {"DirectoryId": call.directory_id, "Realm": call.realm, **self._user(entry),
                "OtherAttributes": self._other_attributes(others, entry)}

    def _changes(self, call, values, others):
        """UpdateUser/UpdateGroup: the LDAP modifications for UpdateType ADD | REPLACE | REMOVE."""
        update_type = self._enum(call, "UpdateType", ("ADD", "REPLACE", "REMOVE")) or "REPLACE"
        operation = {"ADD": ldap3.MODIFY_ADD, "REPLACE": ldap3.MODIFY_REPLACE,
                     "REMOVE": ldap3.MODIFY_DELETE}[update_type]
        changes = {}
        for attribute, value in values.items():
            if value is not None:
                changes[attribute] = [(operation, [] if update_type == "REMOVE" else [value])]
        for attribute, (vals, is_set) in others.items():
            # REMOVE clears the attribute; from a set (SS), it removes the values given.
            changes[attribute] = [(operation, vals if update_type != "REMOVE" or is_set else [])]
        return changes

    @staticmethod
    def _check_update_type(call, entry, changes, sets):
        """The model's UpdateType rule, attribute by attribute: "If no value exists for the attribute, use ADD.
        Otherwise, use REPLACE ... or REMOVE". A REPLACE (or REMOVE) of an attribute without a value is refused
        with MISSING_ATTRIBUTE, an ADD to one that has a value (but for adding to a set, SS) with
        ATTRIBUTE_EXISTS [inferred: AWS documents the rule, not its refusal]."""
        update_type = call.body.get("UpdateType") or "REPLACE"
        for attribute in changes:
            has_value = bool(entry["raw_attributes"].get(attribute))
            if update_type == "ADD" and has_value and attribute not in sets:
                raise validation(f"Attribute {attribute} already has a value: use UpdateType REPLACE to change it",
                                 "ATTRIBUTE_EXISTS")
            if update_type != "ADD" and not has_value:
                raise validation(f"Attribute {attribute} has no value: use UpdateType ADD to set it",
                                 "MISSING_ATTRIBUTE")

    def update_user(self, call):
        name = self._user_name(call)
        values = {"givenName": self._string(call, "GivenName", 64), "sn": self._string(call, "Surname", 64),
                  "mail": self._string(call, "EmailAddress", 256)}
        others = self._write_values(call.body.get("OtherAttributes"), "user", creating=False)
        changes = self._changes(call, values, others)
        if not changes:
            raise validation("Nothing to update: give GivenName, Surname, EmailAddress or OtherAttributes",
                             "MISSING_ATTRIBUTE")
        self._settling_user(call, name)

        def update(conn):
            entry = self._require_user(conn, name, self.USER_ATTRIBUTES + list(changes))
            self._require_writable(entry["dn"], f"User {name}")
            self._check_update_type(call, entry, changes, {a for a, (dummy, is_set) in others.items() if is_set})
            conn.modify(entry["dn"], changes)

        self._ldap(update, f"user {name}")
        return {}

    def disable_user(self, call):
        name = self._user_name(call)
        self._settling_user(call, name)

        def disable(conn):
            entry = self._require_user(conn, name)
            self._require_writable(entry["dn"], f"User {name}")
            uac = int(self._one(entry, "userAccountControl") or UAC_NORMAL_ACCOUNT)
            if not uac & UAC_ACCOUNTDISABLE:  # an already disabled user stays as it is
                conn.modify(entry["dn"], {"userAccountControl": [(ldap3.MODIFY_REPLACE, [uac | UAC_ACCOUNTDISABLE])]})

        self._ldap(disable, f"user {name}")
        return {}

    def delete_user(self, call):
        name = self._user_name(call)
        self._settling_user(call, name)

        def delete(conn):
            entry = self._require_user(conn, name)
            self._require_writable(entry["dn"], f"User {name}")
            conn.delete(entry["dn"])

        self._ldap(delete, f"user {name}")
        return {}

    def list_users(self, call):
        self._check_realm(call, "Realm")
        entries = self._ldap(lambda conn: self._search(conn, "(&(objectCategory=person)(objectClass=user))",
                                                       self.USER_ATTRIBUTES), "users")
        users = [self._user(entry, full=False) for entry in entries]
        page, token = self._page(call, users, lambda user: user["SAMAccountName"], "")
        return {"DirectoryId": call.directory_id, "Realm": call.realm, "Users": page, "NextToken": token}

    def _search_filter(self, call, base_filter):
        names = call.body.get("SearchAttributes")
        if not isinstance(names, list) or not 1 <= len(names) <= 25:
            raise validation("SearchAttributes must list 1 to 25 attribute names")
        text = call.body.get("SearchString")
        if not isinstance(text, str) or not 1 <= len(text) <= 64:
            raise validation("SearchString must have 1 to 64 characters")
        if "*" in text:
            raise validation("Wildcard (*) searches aren't supported", "INVALID_ATTRIBUTE_VALUE")
        terms = []
        for name in names:
            info = self._attribute_type(name)
            canonical = info.name[0]
            if canonical.lower() in NOT_SEARCHABLE or info.syntax not in SYNTAX_STRINGS:
                raise validation(f"Attribute {canonical} is not searchable", "INVALID_ATTRIBUTE_FOR_SEARCH")
            terms.append(f"({canonical}=*{escape_filter_chars(text)}*)")
        scope = hashlib.sha256(json.dumps([sorted(n.lower() for n in names), text]).encode()).hexdigest()[:16]
        return f"(&{base_filter}(|{''.join(terms)}))", scope

    def search_users(self, call):
        self._check_realm(call, "Realm")
        flt, scope = self._search_filter(call, "(objectCategory=person)(objectClass=user)")
        entries = self._ldap(lambda conn: self._search(conn, flt, self.USER_ATTRIBUTES), "users")
        users = [self._user(entry) for entry in entries]
        page, token = self._page(call, users, lambda user: user["SAMAccountName"], scope)
        return {"DirectoryId": call.directory_id, "Realm": call.realm, "Users": page, "NextToken": token}

    # --- groups -------------------------------------------------------------------------------

    def create_group(self, call):
        name = self._group_name(call)
        kind = self._enum(call, "GroupType", ("Distribution", "Security")) or "Security"
        scope = self._enum(call, "GroupScope", tuple(GROUP_SCOPES)) or "Global"
        if scope == "BuiltinLocal":
            raise validation("BuiltinLocal groups are the directory's own: create DomainLocal, Global or "
                             "Universal groups", "INVALID_ATTRIBUTE_VALUE")
        others = self._write_values(call.body.get("OtherAttributes"), "group", creating=True)
        dn = f"CN={escape_rdn(name)},{self.lab.ad_users_ou}"
        attributes = {"sAMAccountName": name, "groupType": self._group_type_value(kind, scope)}
        for attribute, (vals, dummy) in others.items():
            attributes[attribute] = vals if len(vals) != 1 else vals[0]

        def create(conn):
            if self._taken(conn, name):
                raise conflict(f"An object named {name} already exists.")
            conn.add(dn, ["top", "group"], attributes)
            return self._require_group(conn, name)

        entry = self._ldap(create, f"group {name}", "group")
        return {"DirectoryId": call.directory_id, "SAMAccountName": name, "SID": self._sid(entry)}

    def describe_group(self, call):
        self._check_realm(call, "Realm")
        name = self._group_name(call)
        others = self._requested_attributes(call.body.get("OtherAttributes"))
        entry = self._ldap(lambda conn: self._require_group(conn, name, self.GROUP_ATTRIBUTES + others),
                           f"group {name}", "group")
        return {"DirectoryId": call.directory_id, "Realm": call.realm, **self._group(entry),
                "OtherAttributes": self._other_attributes(others, entry)}

    def update_group(self, call):
        name = self._group_name(call)
        kind = self._enum(call, "GroupType", ("Distribution", "Security"))
        scope = self._enum(call, "GroupScope", tuple(GROUP_SCOPES))
        if scope == "BuiltinLocal":
            raise validation("A group can't become BuiltinLocal", "INVALID_ATTRIBUTE_VALUE")
        others = self._write_values(call.body.get("OtherAttributes"), "group", creating=False)
        changes = self._changes(call, {}, others)
        if not changes and kind is None and scope is None:
            raise validation("Nothing to update: give GroupType, GroupScope or OtherAttributes", "MISSING_ATTRIBUTE")

        def update(conn):
            entry = self._require_group(conn, name, self.GROUP_ATTRIBUTES + list(changes))
            self._require_writable(entry["dn"], f"Group {name}")
            if (kind or scope) and call.body.get("UpdateType") == "ADD":
                raise validation("GroupType and GroupScope always have a value: use UpdateType REPLACE",
                                 "ATTRIBUTE_EXISTS")
            self._check_update_type(call, entry, changes, {a for a, (dummy, is_set) in others.items() if is_set})
            if kind or scope:
                old_kind, old_scope = self._group_kind(self._one(entry, "groupType"))
                value = self._group_type_value(kind or old_kind, scope or old_scope)
                changes["groupType"] = [(ldap3.MODIFY_REPLACE, [value])]
            conn.modify(entry["dn"], changes)

        self._ldap(update, f"group {name}", "group")
        return {}

    def delete_group(self, call):
        name = self._group_name(call)

        def delete(conn):
            entry = self._require_group(conn, name)
            self._require_writable(entry["dn"], f"Group {name}")
            conn.delete(entry["dn"])

        self._ldap(delete, f"group {name}", "group")
        return {}

    def list_groups(self, call):
        self._check_realm(call, "Realm")
        entries = self._ldap(lambda conn: self._search(conn, "(objectClass=group)", self.GROUP_ATTRIBUTES), "groups")
        groups = [self._group(entry, full=False) for entry in entries]
        page, token = self._page(call, groups, lambda group: group["SAMAccountName"], "")
        return {"DirectoryId": call.directory_id, "Realm": call.realm, "Groups": page, "NextToken": token}

    def search_groups(self, call):
        self._check_realm(call, "Realm")
        flt, scope = self._search_filter(call, "(objectClass=group)")
        entries = self._ldap(lambda conn: self._search(conn, flt, self.GROUP_ATTRIBUTES), "groups")
        groups = [self._group(entry) for entry in entries]
        page, token = self._page(call, groups, lambda group: group["SAMAccountName"], scope)
        return {"DirectoryId": call.directory_id, "Realm": call.realm, "Groups": page, "NextToken": token}

    # --- membership ---------------------------------------------------------------------------

    MEMBER_ATTRIBUTES = ["sAMAccountName", "objectSid", "objectClass"]

    def _member_type(self, entry):
        classes = [c.lower() for c in (entry["attributes"].get("objectClass") or [])]
        if "computer" in classes:
            return "COMPUTER"
        return "GROUP" if "group" in classes else "USER"

    def _membership(self, call):
        self._check_realm(call, "MemberRealm")
        group_name = self._group_name(call, "GroupName")
        member_name = self._group_name(call, "MemberName", limit=63)
        return group_name, member_name

    def _change_member(self, call, adding):
        group_name, member_name = self._membership(call)
        self._settling_user(call, member_name, "Member")

        def lookup(conn):
            group = self._require_group(conn, group_name)
            member = self._find(conn, self.MEMBER_FILTER, member_name, self.MEMBER_ATTRIBUTES)
            if member is None:
                raise not_found(f"Member {member_name} does not exist.")
            # Through memberOf, not the group's member attribute (which AD returns in ranges past 1500).
            present = self._search(conn, f"(&(distinguishedName={escape_filter_chars(member['dn'])})"
                                         f"(memberOf={escape_filter_chars(group['dn'])}))", ["sAMAccountName"])
            return group, member, bool(present)

        group, member, present = self._ldap(lookup, f"group {group_name}", "group")
        # Your OU, and the AWS Delegated Groups OU (written by AWS itself, as Administrator here).
        self._require_writable(group["dn"], f"Group {group_name}", self.delegated_groups_ou)
        delegated = self._under(group["dn"], self.delegated_groups_ou)
        if adding and present:
            raise conflict(f"{member_name} is already a member of {group_name}.")
        if not adding and not present:
            raise not_found(f"{member_name} is not a member of {group_name}.")
        change = ldap3.MODIFY_ADD if adding else ldap3.MODIFY_DELETE
        self._ldap(lambda conn: conn.modify(group["dn"], {"member": [(change, [member["dn"]])]}),
                   f"group {group_name}", "group", administrator=delegated)
        return {}

    def add_group_member(self, call):
        return self._change_member(call, adding=True)

    def remove_group_member(self, call):
        return self._change_member(call, adding=False)

    def list_group_members(self, call):
        self._check_realm(call, "Realm")
        self._check_realm(call, "MemberRealm")
        name = self._group_name(call)

        def members(conn):
            group = self._require_group(conn, name)
            return self._search(conn, f"(memberOf={escape_filter_chars(group['dn'])})", self.MEMBER_ATTRIBUTES)

        entries = self._ldap(members, f"group {name}", "group")
        listed = [{"SAMAccountName": self._one(entry, "sAMAccountName"), "SID": self._sid(entry),
                   "MemberType": self._member_type(entry)}
                  for entry in entries if self._one(entry, "sAMAccountName")]
        page, token = self._page(call, listed, lambda member: member["SAMAccountName"], name.lower())
        return {"DirectoryId": call.directory_id, "Realm": call.realm, "MemberRealm": call.realm,
                "Members": page, "NextToken": token}

    def list_groups_for_member(self, call):
        self._check_realm(call, "Realm")
        self._check_realm(call, "MemberRealm")
        name = self._group_name(call, limit=63)

        def groups(conn):
            member = self._find(conn, self.MEMBER_FILTER, name, self.MEMBER_ATTRIBUTES)
            if member is None:
                raise not_found(f"Member {name} does not exist.")
            return self._search(conn, f"(&(objectClass=group)(member={escape_filter_chars(member['dn'])}))",
                                self.GROUP_ATTRIBUTES)

        entries = self._ldap(groups, f"member {name}")
        listed = [self._group(entry, full=False) for entry in entries]
        page, token = self._page(call, listed, lambda group: group["SAMAccountName"], name.lower())
        return {"DirectoryId": call.directory_id, "Realm": call.realm, "MemberRealm": call.realm,
                "Groups": page, "NextToken": token}


def install(lab, middleware):
    lab.knobs.setdefault("dsdata_consistency_delay", float(lab.env.get("LAB_DSDATA_CONSISTENCY_DELAY", "3")))
    service = DirectoryData(lab)
    lab.ds_data = service  # fidelity/ds.py asks it whether a user is too new for ResetUserPassword
    middleware.register(SERVICE, service.handle)
    return service
