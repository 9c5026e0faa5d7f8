"""The lab's fidelity extensions: where moto fakes or lacks what the collection calls.

Each extension module mirrors facts from AWS_FACTS.md (lab/README.md says which) and exposes
`install(lab, middleware)`, called once by aws_endpoint.py before the server serves:
  lab         the LabContext (context.py): knobs, faults, the call log, the Samba DC, PostgreSQL
  middleware  the LabMiddleware (middleware.py): register(service, handler) for whole services
              moto lacks. Operations moto lacks in a service it has are patched onto moto's
              backend and response classes by the extension itself.
"""

from .context import LabContext
from .middleware import LabMiddleware

# rds_params patches over rds: it comes after it.
EXTENSIONS = ("ds", "ds_data", "rds", "rds_params", "partitions", "sts", "ec2", "ssm", "iam_auth")


def wrap(app):
    """Install every extension and return moto's WSGI app wrapped by the lab's middleware."""
    import importlib

    lab = LabContext.from_environ()
    middleware = LabMiddleware(app, lab)
    for name in EXTENSIONS:
        importlib.import_module(f"{__name__}.{name}").install(lab, middleware)
    return middleware
