#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ad_user
short_description: Manage an Active Directory user, such as a Kerberos login for Aurora PostgreSQL
version_added: 0.1.0
description:
  - Creates, updates, enables, disables and deletes a user in Active Directory, for example in
    AWS Managed Microsoft AD, from any Linux host; no Windows host is needed.
  - The user is found by its C(sAMAccountName) (O(name)) anywhere under the domain's base DN.
    An existing user is updated where it is; O(ou) is used only when the user is created.
  - The C(ldap) backend talks LDAPS (LDAP over TLS) to a domain controller with the pure Python
    C(ldap3) library and sets the password through C(unicodePwd), which AD accepts only over TLS.
  - The C(ds_data) backend uses the AWS Directory Service Data API (C(ds-data)) of an AWS Managed
    Microsoft AD, so it needs no network path to a domain controller, only AWS credentials. It
    creates the user with C(CreateUser), which sets no password, and then sets the password with
    Directory Service C(ResetUserPassword), which also enables the user. The API has no call that
    enables a user, so enabling a disabled user needs O(password) (it is set again to enable it).
    Calls are spaced to stay within the directory's documented rate (Standard edition 4 writes and
    8 reads a second, Enterprise 8 and 16) and C(ThrottlingException) is retried with backoff.
  - Sets C(msDS-SupportedEncryptionTypes) so the domain controller issues AES Kerberos tickets for
    the user (O(supported_encryption_types)).
  - Options that are not given leave the matching attribute alone on an existing user.
author:
  - aurora.kerberos contributors (!UNKNOWN)
requirements:
  - ldap3 >= 2.9 on the host that runs the module, for O(backend=ldap)
  - boto3 and botocore, for O(backend=ds_data)
extends_documentation_fragment:
  - aurora.kerberos.ad_directory
  - ansible.builtin.action_common_attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the user's non-secret attributes before and after; never a password.
  platform:
    platforms: posix
options:
  name:
    description:
      - The user's logon name, C(sAMAccountName), and the CN of a user the module creates.
      - >-
        1 to 20 characters, none of C(" / \ [ ] : ; | = , + * ? < > @) or C('), no control
        characters, not only periods or spaces, and not ending in a period.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the user, V(absent) deletes it.
      - Deleting a user that does not exist is not a change.
    type: str
    choices: [present, absent]
    default: present
  password:
    description:
      - The user's password. It must satisfy the domain's password policy.
      - When it is set is up to O(update_password).
      - The module never returns or logs it.
      - A user created without a password is created disabled, whatever O(enabled) says, because AD
        refuses to enable an account without a password under its default policy; the module warns.
        It stays disabled, with a warning on each run, until a run gives a password; that run sets
        the password and enables the user.
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) when the module creates the user, and on an existing user
        only if that user has no password yet (C(pwdLastSet) is 0, for example a user created
        earlier without one). A rerun never sets the password again.
        Note that AD also keeps C(pwdLastSet) at 0 for a user that must change its password at next
        logon, so such a user gets O(password).
      - V(always) makes sure O(password) is the user's password. The module checks by binding as the
        user and sets the password only when that bind fails, so a rerun with the same password
        is not a change. A failed check counts as one bad logon attempt towards the domain's lockout
        threshold. A disabled user cannot bind, so a disabled user's password is set, and reported
        as a change, on every run.
      - With O(backend=ds_data) a password cannot be checked, so V(always) sets O(password) on every
        run and reports a change each time; V(on_create) also sets it when that is the only way to
        enable a disabled user (see O(enabled)).
    type: str
    choices: [on_create, always]
    default: on_create
  enabled:
    description:
      - Whether the account is enabled (C(userAccountControl) 512) or disabled (514). Other
        C(userAccountControl) flags of an existing user are kept.
      - A user with no password stays disabled; see O(password).
      - With O(backend=ds_data), enabling a disabled user sets O(password) through
        C(ResetUserPassword), the only way the API enables a user; without O(password) the user
        stays disabled and the module warns.
    type: bool
    default: true
  given_name:
    description:
      - The user's first name (C(givenName)). An empty string clears it.
    type: str
  surname:
    description:
      - The user's last name (C(sn)). An empty string clears it.
    type: str
  email_address:
    description:
      - The user's email address (C(mail)). An empty string clears it.
    type: str
  user_principal_name:
    description:
      - The user's C(userPrincipalName), the name it logs on with in Kerberos.
      - When the module creates the user and this is not given, it is C(<name>@<REALM>), for
        example C(alice@CORP.EXAMPLE.COM). On an existing user it changes only when given.
      - With O(backend=ds_data) it cannot be set (the API keeps it read-only and creates
        C(<name>@<REALM>)); giving another value fails.
    type: str
  ou:
    description:
      - The DN of the OU in which to create the user.
      - Defaults to C(OU=Users,OU=<short_name>,<base DN>), where AWS Managed Microsoft AD keeps
        users and the only OU its delegated C(Admin) account may manage.
      - Must be under the domain's base DN. An existing user is not moved.
      - Not supported with O(backend=ds_data), which always creates users in the default OU.
    type: str
  supported_encryption_types:
    description:
      - The Kerberos encryption types the domain controller may use for the user's tickets,
        written to C(msDS-SupportedEncryptionTypes).
      - The default, AES128 and AES256, is the value 24.
      - An empty list clears the attribute, which lets the domain controller choose.
    type: list
    elements: str
    choices: [aes128, aes256, rc4]
    default: [aes128, aes256]
notes:
  - A user created without O(password) is created disabled; see O(password).
  - O(update_password=always) checks the password with a bind as the user; see O(update_password).
  - O(backend=ds_data) creates users disabled and without a password, then sets the password with
    C(ResetUserPassword); if the domain refuses the password, the user stays behind disabled and a
    rerun with an acceptable password sets it.
  - AWS Managed Microsoft AD lets its C(Admin) account manage users only under
    C(OU=<short_name>,<base DN>); the default O(ou) is there.
seealso:
  - name: Creating a user in AWS Managed Microsoft AD
    description: Where AWS Managed Microsoft AD keeps users and what its Admin account may do.
    link: https://docs.aws.amazon.com/directoryservice/latest/admin-guide/ms_ad_manage_users_groups_create_user.html
  - name: Kerberos authentication for Aurora PostgreSQL
    description: How Aurora PostgreSQL uses AWS Managed Microsoft AD users.
    link: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/postgresql-kerberos.html
"""

EXAMPLES = r"""
- name: Create a database login in AWS Managed Microsoft AD
  aurora.kerberos.ad_user:
    name: alice
    password: "{{ alice_password }}"
    given_name: Alice
    surname: Example
    email_address: alice@example.com
    domain: corp.example.com
    ldap_server: "{{ directory_dns_ips[0] }}"
    ldap_server_name: "{{ directory_ldaps_name }}"
    ldap_ca_file: /etc/pki/ca-trust/source/anchors/corp-ca.pem
    bind_password: "{{ ad_admin_password }}"

- name: Keep the password of a service account as given, checking it on every run
  aurora.kerberos.ad_user:
    name: svc_reports
    password: "{{ svc_reports_password }}"
    update_password: always
    domain: corp.example.com
    ldap_server: dc1.corp.example.com
    ldap_ca_file: "{{ ldaps_ca_file }}"
    bind_user: "{{ ad_admin_user }}"
    bind_password: "{{ ad_admin_password }}"

- name: Disable a user
  aurora.kerberos.ad_user:
    name: bob
    enabled: false
    domain: corp.example.com
    ldap_server: dc1.corp.example.com
    ldap_ca_file: "{{ ldaps_ca_file }}"
    bind_password: "{{ ad_admin_password }}"

- name: Create a user through the Directory Service Data API, turning data access on if needed
  aurora.kerberos.ad_user:
    backend: ds_data
    directory_id: "{{ directory_id }}"
    enable_data_access: true
    name: carol
    password: "{{ carol_password }}"
    domain: corp.example.com
    region: eu-west-1

- name: Delete a user
  aurora.kerberos.ad_user:
    name: bob
    state: absent
    domain: corp.example.com
    ldap_server: dc1.corp.example.com
    ldap_ca_file: "{{ ldaps_ca_file }}"
    bind_password: "{{ ad_admin_password }}"
"""

RETURN = r"""
user:
  description:
    - The user after the task, or what it would be in check mode.
    - Empty when O(state=absent).
  returned: always
  type: dict
  contains:
    name:
      description: The C(sAMAccountName).
      returned: success
      type: str
      sample: alice
    dn:
      description: The user's distinguished name.
      returned: success
      type: str
      sample: CN=alice,OU=Users,OU=CORP,DC=corp,DC=example,DC=com
    sid:
      description: The user's security identifier (C(objectSid)); null for a user only created in check mode.
      returned: success
      type: str
      sample: S-1-5-21-2127521184-1604012920-1887927527-1105
    user_principal_name:
      description: The C(userPrincipalName).
      returned: success
      type: str
      sample: alice@CORP.EXAMPLE.COM
    enabled:
      description: Whether the account is enabled.
      returned: success
      type: bool
      sample: true
    given_name:
      description: The C(givenName), or null.
      returned: success
      type: str
      sample: Alice
    surname:
      description: The C(sn), or null.
      returned: success
      type: str
      sample: Example
    email_address:
      description: The C(mail), or null.
      returned: success
      type: str
      sample: alice@example.com
    supported_encryption_types:
      description: The encryption types set in C(msDS-SupportedEncryptionTypes); empty when it is not set.
      returned: success
      type: list
      elements: str
      sample: [aes128, aes256]
diff:
  description:
    - The user's non-secret attributes before and after, as in RV(user); empty for a user that does
      not exist. A password change does not show here, only in RV(ignore:changed).
  returned: always
  type: dict
  contains:
    before:
      description: The user before the task.
      returned: always
      type: dict
    after:
      description: The user after the task.
      returned: always
      type: dict
  sample:
    before:
      name: alice
      given_name: Alice
      enabled: true
    after:
      name: alice
      given_name: Alicia
      enabled: true
"""

from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import USER_OPTIONS
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import run_user
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_accounts import sam_account_name_problem
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_ARGUMENT_SPEC
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import DIRECTORY_REQUIRED_IF
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import directory_settings
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_directory import run_on_directory
from ansible_collections.aurora.kerberos.plugins.module_utils.ad_ldap import LdapUserDirectory
from ansible_collections.aurora.kerberos.plugins.module_utils.modules import AuroraKerberosAWSModule

ARGUMENT_SPEC = dict(
    ou=dict(type="str"),
    **USER_OPTIONS,
    **DIRECTORY_ARGUMENT_SPEC,
)


def user_settings(module):
    """Check the options and derive realm, base DN, short name and OU; fail naming each bad option."""
    params = module.params
    settings, problems = directory_settings(params, "user")
    problem = sam_account_name_problem(params["name"])
    if problem:
        problems.insert(0, f"name {params['name']!r} is not a valid sAMAccountName: it {problem}")
    if params["password"] == "":
        problems.append("password must not be empty; leave it out to create the user without one")
    upn = params["user_principal_name"]
    if upn and "@" not in upn:
        problems.append(f"user_principal_name {upn!r} must have the form user@suffix, such as alice@{settings['realm']}")
    default_upn = f"{params['name']}@{settings['realm']}"
    if params["backend"] == "ds_data" and upn and upn.lower() != default_upn.lower():
        problems.append(f"user_principal_name {upn!r} cannot be set with backend=ds_data, where it is read-only and "
                        f"always {default_upn}. Leave it out or use backend=ldap")
    if problems:
        module.fail_json(msg="; ".join(problems) + ".")
    return settings


def main():
    # One module class for both backends: the AWS options are ignored with backend=ldap.
    module = AuroraKerberosAWSModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=DIRECTORY_REQUIRED_IF,
        supports_check_mode=True,
        check_boto3=False,
    )
    run_on_directory(module, user_settings(module), LdapUserDirectory, run_user)


if __name__ == "__main__":
    main()
