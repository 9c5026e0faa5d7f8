# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one AnsibleAWSModule subclass every aurora.kerberos AWS module uses."""

from ansible_collections.amazon.aws.plugins.module_utils.common import set_collection_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.aurora.kerberos.plugins.module_utils.common import AURORA_KERBEROS_COLLECTION_NAME
from ansible_collections.aurora.kerberos.plugins.module_utils.common import AURORA_KERBEROS_COLLECTION_VERSION


class AuroraKerberosAWSModule(AnsibleAWSModule):
    """AnsibleAWSModule that stamps aurora.kerberos and its version into the AWS user agent."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        set_collection_info(
            collection_name=AURORA_KERBEROS_COLLECTION_NAME,
            collection_version=AURORA_KERBEROS_COLLECTION_VERSION,
        )
