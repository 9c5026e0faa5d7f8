# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Kept in step with galaxy.yml by tests/unit/plugins/module_utils/test_modules.py.
AURORA_KERBEROS_COLLECTION_NAME = "aurora.kerberos"
AURORA_KERBEROS_COLLECTION_VERSION = "0.1.0"
