"""SSM Parameter Store fidelity: PutParameter without Overwrite is a conditional create, as on AWS.

moto 5.2.5 is patched at runtime, never edited. moto's put_parameter reads a name's versions and appends the new one
in two steps, and the lab's server is threaded: two PutParameter calls without Overwrite racing for one name could
both succeed, where AWS gives one of them ParameterAlreadyExists ("The parameter already exists. To overwrite this
value, set the overwrite option in the request to true.", HTTP 400: moto's wording, the same as AWS's in public
reports, e.g. garystafford/emr-demo#1, aws-ia/terraform-aws-control_tower_account_factory#166). A name is unique
within a Region (ssm model, PutParameter Name) and AWS serializes the updates of one parameter (the model's
TooManyUpdates), so the lab serializes PutParameter and DeleteParameter. The directory module's creation claims rely
on it (lab/README.md, "SSM Parameter Store").
"""

import functools
import threading

_LOCK = threading.Lock()
_INSTALLED = False


def _serialized(method):
    @functools.wraps(method)
    def serialized(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)
    return serialized


def install(lab, middleware):
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.ssm.models import SimpleSystemManagerBackend

    for name in ("put_parameter", "delete_parameter", "delete_parameters"):
        setattr(SimpleSystemManagerBackend, name, _serialized(getattr(SimpleSystemManagerBackend, name)))
    _INSTALLED = True
