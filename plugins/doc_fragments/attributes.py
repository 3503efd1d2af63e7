# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment for module attributes."""

from __future__ import annotations


class ModuleDocFragment(object):
    """Common attribute descriptions (check_mode, diff_mode, action_group)."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(--diff) mode) when in diff mode.
"""

    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/pgdock.postgres.postgres) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - pgdock.postgres.postgres
"""
