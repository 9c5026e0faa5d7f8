# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # How ad_user and ad_group reach the directory: the options of module_utils/ad_directory.py's
    # DIRECTORY_ARGUMENT_SPEC, documented once.
    DOCUMENTATION = r"""
options:
  domain:
    description:
      - The directory's DNS name, for example V(corp.example.com).
      - The base DN (C(DC=corp,DC=example,DC=com)) and the Kerberos realm (C(CORP.EXAMPLE.COM))
        derive from it.
    type: str
    required: true
  short_name:
    description:
      - The directory's NetBIOS name.
      - Defaults to the first label of O(domain) in upper case, for example C(CORP).
    type: str
  backend:
    description:
      - How the module reaches the directory.
      - V(ldap) talks LDAPS to a domain controller with O(ldap_server) and O(bind_user).
      - V(ds_data) calls the AWS Directory Service Data API of O(directory_id) with the AWS
        credentials and region of the task; the AWS options are ignored with V(ldap).
    type: str
    choices: [ldap, ds_data]
    default: ldap
  directory_id:
    description:
      - The id of the AWS Managed Microsoft AD, for example V(d-1234567890).
      - Required with O(backend=ds_data).
    type: str
  enable_data_access:
    description:
      - With O(backend=ds_data), whether to turn on the directory's data access
        (C(EnableDirectoryDataAccess)) when it is off, and wait until it is C(Enabled).
      - When V(false) and data access is off, the module fails and says so.
      - In check mode, data access is reported as a change, and the user or group as if it did not exist.
    type: bool
    default: false
  poll_interval:
    description:
      - With O(backend=ds_data), seconds between reads of the directory data access status while it turns
        C(Enabled) (or, first, while a C(Disabling) one reaches C(Disabled)).
    type: int
    default: 15
  consistency_timeout:
    description:
      - With O(backend=ds_data), at most how many seconds to retry the answers AWS documents for the short
        delay between Directory Service and Directory Service Data; right after data access was enabled,
        C(AccessDeniedException) with reason C(DATA_DISABLED); right after a user or group was created,
        C(ResourceNotFoundException) from ds-data and C(UserDoesNotExistException) from C(ResetUserPassword).
      - After that the task fails with AWS's error.
    type: int
    default: 60
  ldap_server:
    description:
      - Host name or IP address of a domain controller that answers LDAPS.
      - For AWS Managed Microsoft AD, one of the directory's DNS IP addresses. A new Managed AD does not
        serve LDAPS until server-side LDAPS is set up (a certificate from an enterprise CA on its
        domain controllers); EnableLDAPS Type=Client is the client side only. O(backend=ds_data) needs
        neither.
      - Required with O(backend=ldap).
    type: str
  ldap_port:
    description:
      - The LDAPS port of O(ldap_server).
    type: int
    default: 636
  ldap_ca_file:
    description:
      - Path on the managed host to the PEM file of the CA that signed the domain controller's
        LDAPS certificate.
      - Required with O(backend=ldap) unless O(validate_certs=false).
    type: path
  ldap_server_name:
    description:
      - The name to look for in the domain controller's certificate, for when O(ldap_server) is
        an IP address, for example V(dc1.corp.example.com).
      - Defaults to O(ldap_server).
    type: str
  validate_certs:
    description:
      - Whether to verify the domain controller's certificate against O(ldap_ca_file) and
        O(ldap_server_name).
      - Only set V(false) against a throwaway lab; the bind password then goes to whoever answers.
    type: bool
    default: true
  bind_user:
    description:
      - The account that makes the changes. A bare account name becomes C(<bind_user>@<REALM>);
        a DN or a name that contains C(@) is used as given.
      - Defaults to V(Admin), the delegated administrator of AWS Managed Microsoft AD.
    type: str
    default: Admin
  bind_password:
    description:
      - The password of O(bind_user).
      - Required with O(backend=ldap).
    type: str
"""
