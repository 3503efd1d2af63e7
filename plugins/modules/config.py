#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config
short_description: PostgreSQL server parameters, set with ALTER SYSTEM
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Sets server parameters with C(ALTER SYSTEM) (they go to C(postgresql.auto.conf) and survive a
    container recreation with the data volume), or resets them, then reloads the configuration.
  - Every name and value is checked against the server's C(pg_settings) before anything is written
    (enum values, booleans, integer and real ranges, units such as V(512MB) or V(5min) per the
    parameter's unit). An unknown parameter or a bad value fails the task and nothing is written.
    If one C(ALTER SYSTEM) still fails, the ones already run are reverted.
  - Values are compared in the parameter's own unit (V(1GB), V(1024MB) and V(131072) for
    C(shared_buffers) are the same), so a second run changes nothing.
  - Parameters that need a restart are reported in RV(pending_restart). With O(allow_restart=true)
    the container is restarted when any is pending, and the task waits until the server accepts
    connections.
  - A parameter given on the server's command line (the C(settings) of P(pgdock.postgres.container#module),
    C(-c name=value)) overrides C(ALTER SYSTEM); asking for another value of it fails the task with a
    message saying where to change it, instead of reporting a change that cannot take effect.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
  - pgdock.postgres.postgres
  - pgdock.postgres.postgres.login_alias
  - pgdock.postgres.postgres.ca_cert_alias
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the changed parameters with their values before and after.
options:
  settings:
    description:
      - Parameters and their values, for example C(work_mem) V(64MB) or C(log_min_duration_statement) V(500ms).
      - Booleans may be given as YAML booleans. A bare number counts in the parameter's unit.
      - Parameters of extensions (with a dot, such as C(pg_stat_statements.track)) that the server
        does not know yet are written unchecked.
    type: dict
    default: {}
  reset:
    description: Parameters to remove from C(postgresql.auto.conf) (C(ALTER SYSTEM RESET)).
    type: list
    elements: str
    default: []
  preset:
    description:
      - Settings for a kind of server, merged under O(settings) (which win).
      - V(production) sizes memory from the container's memory limit (or O(preset_memory)) with
        C(shared_buffers) 25%, C(effective_cache_size) 75%, C(maintenance_work_mem) 1/16 (64MB to
        2GB), C(work_mem) from the rest per connection (at least 4MB); WAL and checkpoints
        (C(wal_compression), C(max_wal_size), C(min_wal_size), C(checkpoint_timeout) 15min,
        C(checkpoint_completion_target) 0.9); logging of slow statements (1s), checkpoints, lock
        waits, autovacuum runs and temporary files; C(password_encryption=scram-sha-256).
      - It does not turn C(ssl) on; set it in O(settings) once certificates are in place.
      - A preset parameter set on the server's command line is left as it is, with a warning.
      - C(shared_buffers) needs a restart (O(allow_restart)).
    type: str
    choices: [production]
  preset_memory:
    description:
      - Memory a preset sizes for, for example V(4g). Defaults to the container's memory limit;
        required when the container has none or when O(container) is not given.
    type: str
  allow_restart:
    description: Restart the container when a parameter waits for a restart. Needs O(container).
    type: bool
    default: false
  stop_timeout:
    description: Seconds the server gets to shut down for a restart. Defaults to the container's stop timeout.
    type: int
  wait_timeout:
    description: Seconds to wait for the server to accept connections after a restart.
    type: int
    default: 180
notes:
  - C(ALTER SYSTEM) needs a superuser (or the C(ALTER SYSTEM) privilege) and C(allow_alter_system=on) (PostgreSQL 17+).
seealso:
  - module: pgdock.postgres.container
  - module: pgdock.postgres.hba
"""

EXAMPLES = r"""
- name: Production settings sized from the container's memory limit, restarting when needed
  pgdock.postgres.config:
    container: pg-main
    preset: production
    settings:
      max_connections: 200
      shared_preload_libraries: pg_stat_statements
    allow_restart: true

- name: A reloadable setting only
  pgdock.postgres.config:
    container: pg-main
    settings:
      log_min_duration_statement: 250ms

- name: Back to the defaults
  pgdock.postgres.config:
    container: pg-main
    reset: [log_min_duration_statement]
"""

RETURN = r"""
changes:
  description: The parameters set, each with its value before (as configured) and the value written.
  returned: always
  type: dict
  sample: {work_mem: {before: 4MB, after: 64MB}}
reset:
  description: The parameters removed from postgresql.auto.conf.
  returned: always
  type: list
  elements: str
  sample: [log_min_duration_statement]
pending_restart:
  description:
    - Parameters whose new value takes effect only after a restart (all of the server's, after this
      run; predicted in check mode). Empty after a restart.
  returned: always
  type: list
  elements: str
  sample: [shared_buffers]
restarted:
  description: Whether the container was restarted (or would be, in check mode).
  returned: always
  type: bool
preset:
  description: The settings of the preset, before O(settings) were merged over them.
  returned: always
  type: dict
  sample: {shared_buffers: 256MB, effective_cache_size: 768MB}
preset_skipped:
  description: Preset parameters left alone because they are set on the server's command line.
  returned: always
  type: list
  elements: str
queries:
  description: The statements run (or that would run in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["ALTER SYSTEM SET \"work_mem\" = '64MB'"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.config.engine import ensure_config
from ansible_collections.pgdock.postgres.plugins.module_utils.config.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_config)


if __name__ == "__main__":
    main()
