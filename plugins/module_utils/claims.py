# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A claim on creating a shared resource that AWS makes without a client token (CreateMicrosoftAD).

Two runs side by side (AWX job slices, two operators) both find no directory and both would call
CreateMicrosoftAD, which has no ClientToken (ds model; AWS_FACTS.md section 1): two directories. Before it
creates, a run claims the creation in SSM Parameter Store: PutParameter without Overwrite creates the parameter
only when its name is free and otherwise answers ParameterAlreadyExists ("The parameter already exists. To
overwrite this value, set the overwrite option in the request to true."). A name is unique within a Region
(ssm model, PutParameter Name), so of two runs racing for one name exactly one gets it; updates of one parameter
are serialized (the model's TooManyUpdates: "a resource that supports one update at a time"). AWS does not call
this a lock in so many words: its atomicity is [inferred] from those two documented rules.

Tags were not used: TagResource/CreateTags overwrite without a condition (the last writer wins, and a read-back
cannot tell two writers apart without waiting), and there is no directory to tag before the call. S3 conditional
writes and DynamoDB conditions are documented as atomic but need a bucket or a table the user would have to give.

The claim lives at <prefix>/<vpc id>/<directory name>/<generation> (prefix CLAIM_PREFIX). Its value (JSON) names the
owner (a random id per module run, with the controller's host and process for people), and, once the owner has
called CreateMicrosoftAD, the new directory's id. A claim without a directory id older than its timeout (by
Parameter Store's LastModifiedDate) belongs to a run that died: another run takes the creation over by creating
the next generation, again without Overwrite, so of two runs taking over only one wins. The claims stay as
markers naming the directory (a later run adopts that directory by id) and go when the directory is deleted.
"""

import datetime
import json
import os
import socket
import uuid

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

# The parameters' path: the controller's IAM policy grants ssm:GetParameter/PutParameter/DeleteParameter under it.
CLAIM_PREFIX = "/aurora-kerberos/claims/directory"
# A live claim lasts from PutParameter to the owner's record of the new directory's id: seconds. The default
# timeout is 15 minutes: SigV4 lets the controller's clock be up to 5 minutes off AWS's, and LastModifiedDate is
# AWS's time, so a live claim is never taken for a dead one.
DEFAULT_TIMEOUT = 900
# How many generations one name may take over (a run dying between claiming and creating, again and again).
MAX_GENERATIONS = 100


class AnsibleClaimError(AnsibleAWSError):
    pass


class ClaimErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AnsibleClaimError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("ParameterNotFound")


def new_owner():
    """A run's identity in its claims: unique, and readable by people (host and process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def claim_path(vpc_id, name):
    return f"{CLAIM_PREFIX}/{vpc_id}/{name.lower()}"


@ClaimErrorHandler.list_error_handler("read the claim", None)
@jittered_backoff()
def _get(ssm, parameter_name):
    return ssm.get_parameter(Name=parameter_name)["Parameter"]


@ClaimErrorHandler.common_error_handler("write the claim")
@jittered_backoff()
def _put(ssm, parameter_name, value, overwrite):
    try:
        ssm.put_parameter(Name=parameter_name, Value=json.dumps(value, sort_keys=True), Type="String",
                          Overwrite=overwrite, Description="aurora.kerberos: a run creating this directory")
    except is_boto3_error_code("ParameterAlreadyExists"):
        return False
    return True


@ClaimErrorHandler.deletion_error_handler("delete the claim")
@jittered_backoff()
def _delete(ssm, parameter_name):
    ssm.delete_parameter(Name=parameter_name)
    return True


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


class Claim:
    """The latest generation of a claim: its parameter name, value and age."""

    def __init__(self, path, generation=0, parameter=None):
        self.path = path
        self.generation = generation
        self.value = {}
        self.modified = None
        if parameter:
            try:
                self.value = json.loads(parameter["Value"])
            except ValueError:
                self.value = {}  # not ours to read: treated as a claim without a directory
            self.modified = parameter.get("LastModifiedDate")

    @property
    def name(self):
        return f"{self.path}/{self.generation}"

    @property
    def exists(self):
        return self.generation > 0

    @property
    def owner(self):
        return self.value.get("owner")

    @property
    def directory_id(self):
        return self.value.get("directory_id")

    def age(self):
        if self.modified is None:
            return 0
        modified = self.modified if self.modified.tzinfo else self.modified.replace(tzinfo=datetime.timezone.utc)
        return (_now() - modified).total_seconds()

    def stale(self, timeout):
        """A claim whose owner never recorded a directory within timeout seconds: the owner died."""
        return self.exists and not self.directory_id and self.age() > timeout

    def summary(self):
        return {"parameter": self.name, "owner": self.owner, "directory_id": self.directory_id,
                "age_seconds": int(self.age())}


def read(ssm, path):
    """The latest generation at path (generation 0: never claimed)."""
    latest = Claim(path)
    for generation in range(1, MAX_GENERATIONS + 1):
        parameter = _get(ssm, f"{path}/{generation}")
        if parameter is None:
            return latest
        latest = Claim(path, generation, parameter)
    return latest


def take(ssm, latest, owner, name, vpc_id):
    """Claim the creation with the generation after latest. True when this run holds it now; False when another
    run created that generation first."""
    claim = Claim(latest.path, latest.generation + 1)
    if claim.generation > MAX_GENERATIONS:
        raise AnsibleClaimError(message=f"{latest.path} has {MAX_GENERATIONS} claims: delete them (ssm DeleteParameter) "
                                        "once no run creates this directory")
    return _put(ssm, claim.name, {"owner": owner, "name": name, "vpc_id": vpc_id, "directory_id": None}, False)


def record(ssm, path, generation, owner, name, vpc_id, directory_id):
    """The owner names the directory it created: from now on every run adopts it."""
    _put(ssm, f"{path}/{generation}",
         {"owner": owner, "name": name, "vpc_id": vpc_id, "directory_id": directory_id}, True)


def delete_all(ssm, path):
    """Every generation at path (when the directory is deleted). Returns how many went."""
    latest = read(ssm, path)
    for generation in range(1, latest.generation + 1):
        _delete(ssm, f"{path}/{generation}")
    return latest.generation
