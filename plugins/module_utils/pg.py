# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One connection to the cluster as its master user, for the SQL modules (kerberos_logins,
ad_group_mappings): community.postgresql's connection helpers, the master credentials from the
options or from the cluster's Secrets Manager secret (ManageMasterUserPassword), and connection
errors that name host, port, user and sslmode but never the password."""

import json

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.community.postgresql.plugins.module_utils.postgres import connect_to_db
from ansible_collections.community.postgresql.plugins.module_utils.postgres import ensure_required_libs
from ansible_collections.community.postgresql.plugins.module_utils.postgres import get_conn_params
from ansible_collections.community.postgresql.plugins.module_utils.postgres import postgres_common_argument_spec

from ansible_collections.aurora.kerberos.plugins.module_utils.logins import LoginsError
from ansible_collections.aurora.kerberos.plugins.module_utils.logins import execute
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff

try:
    from psycopg2 import sql as _pg_sql
except ImportError:  # psycopg 3, or neither: ensure_required_libs says which is missing
    try:
        from psycopg import sql as _pg_sql
    except ImportError:
        _pg_sql = None

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:  # only needed with master_user_secret; AnsibleAWSModule reports it
    BotoCoreError = ClientError = Exception

CONNECT_TIMEOUT = 10


def argument_spec():
    """community.postgresql's connection options, verify-full by default, plus the master secret."""
    spec = postgres_common_argument_spec()
    spec["ssl_mode"]["default"] = "verify-full"
    spec.update(
        login_db=dict(type="str", default="postgres"),
        master_user_secret=dict(type="str", no_log=False),  # an ARN or name, not the secret
    )
    return spec


def quote_ident(name, conn):
    """The identifier quoted by the driver (psycopg2.sql.Identifier): every role and database name."""
    return _pg_sql.Identifier(name).as_string(conn)


def render(statement, conn, quoted=None):
    """A planned statement (template with {} per identifier and %s per parameter, identifiers,
    parameters) as SQL text, quoted by the driver. quoted, a dict, keeps each name's quoting across
    calls: a run of thousands of logins names rds_ad and each login more than once."""
    template, identifiers, params = statement
    if quoted is None:
        quoted = {}
    names = []
    for name in identifiers:
        text = quoted.get(name)
        if text is None:
            text = quoted[name] = quote_ident(name, conn)
        names.append(text)
    text = template.format(*names)
    if params is None:
        return text
    return to_native(conn.cursor().mogrify(text, params))


def master_credentials(module):
    """(user, password): the options', or the username and password of master_user_secret."""
    params = module.params
    if not params.get("master_user_secret"):
        return params["login_user"], params["login_password"]
    # A secret lives in one Region, and its ARN names it (arn:<partition>:secretsmanager:<region>:...):
    # read it there, whatever Region the connection or the environment names.
    arn = params["master_user_secret"].split(":")
    client = module.client("secretsmanager", **({"region": arn[3]} if len(arn) > 6 and arn[0] == "arn" and arn[3] else {}))
    try:
        answer = jittered_backoff()(client.get_secret_value)(SecretId=params["master_user_secret"])
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"Cannot read master_user_secret {params['master_user_secret']}")
    try:
        value = json.loads(answer.get("SecretString") or "")
        user, password = value["username"], value["password"]
    except (ValueError, KeyError, TypeError):
        module.fail_json(msg=f"master_user_secret {params['master_user_secret']} must hold JSON with username and "
                             "password, as RDS writes for ManageMasterUserPassword: point it at the cluster's "
                             "MasterUserSecret.SecretArn")
    module.no_log_values.add(password)
    return user, password


class _Quiet(object):
    """The module for connect_to_db, minus its warning: connect() fails with a better message."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)

    def warn(self, message):
        pass


def connect(module):
    """A connection in a transaction (autocommit off), or fail_json naming host, port, user and sslmode."""
    ensure_required_libs(module)
    user, password = master_credentials(module)
    params = dict(module.params, login_user=user, login_password=password)
    conn_params = get_conn_params(module, params, warn_db_default=False)
    conn_params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    conn, error = connect_to_db(_Quiet(module), conn_params, autocommit=False, fail_on_conn=False)
    if conn is None:
        where = conn_params.get("host") or "the local socket"
        if conn_params.get("hostaddr"):
            where += f" ({conn_params['hostaddr']})"
        message = to_native(error or "no answer").strip()
        if password:
            message = message.replace(password, "********")
        module.fail_json(msg=f"Cannot connect to {where} port {conn_params.get('port', 5432)} as {user} with "
                             f"sslmode={conn_params.get('sslmode', 'prefer')}: {message}")
    return conn


def transact(module, planner):
    """Connect, let planner(cursor) read the catalogs and return (plan, context), then run the plan in the
    same transaction and commit it; check mode only renders it. Returns (plan, context, queries).
    A refusal (LoginsError) or any database error rolls everything back and fails the task."""
    conn = connect(module)
    try:
        cursor = conn.cursor()
        plan, context = planner(cursor)
        quoted = {}

        def rendered(statement, connection):
            return render(statement, connection, quoted)

        if module.check_mode:
            queries = [rendered(statement, conn) for statement in plan.statements]
        else:
            queries = execute(cursor, conn, plan.statements, rendered)
        if plan.changed and not module.check_mode:
            conn.commit()
        else:
            conn.rollback()
    except LoginsError as e:
        conn.rollback()
        module.fail_json(msg=str(e))
    except Exception as e:  # any database error: nothing was committed
        conn.rollback()
        module.fail_json(msg=f"Nothing changed; the transaction was rolled back: {to_native(e)}")
    finally:
        conn.close()
    return plan, context, queries
