#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: switchover
short_description: Planned switchover to a standby behind PgBouncer, without failed client transactions
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Moves the primary role from the server the pooler O(pooler) points at to its streaming standby
    O(target). Clients connected through the pooler (transaction pooling) see a short pause and no
    error; no acknowledged write is lost.
  - "Pre-checks, refusing with a message and changing nothing when one fails: the pooler answers, the
    target is a standby streaming from the current primary on the same timeline with a replay lag of
    at most O(max_lag_bytes), and no other switchover of the cluster runs (a lock file named after the
    cluster's system identifier in O(lock_dir))."
  - "Then: CHECKPOINT on the old primary (so its shutdown is quick), C(PAUSE) in the pooler (waits for
    running transactions; after O(pause_timeout) seconds it resumes and aborts), clean shutdown of the
    old primary, a check that the target replayed the old primary's shutdown checkpoint (read from its
    C(pg_control)), C(pg_promote), the pooler repointed at the target (C(RELOAD)) and C(RESUME)."
  - Any failure before the promotion rolls back, the old primary is started again and the pooler
    resumes on it. A failure after the promotion leaves the target as primary and the message says
    what is left to do.
  - With O(rejoin=true) the old primary then becomes a standby of the new one
    (P(pgdock.postgres.replica#module) with C(state=rejoined), C(pg_rewind) when needed), with a slot
    on the new primary, and synchronous when the target was a synchronous standby. The stale slot
    the old primary kept for the target is dropped.
  - Idempotent. When the target is already the primary and the pooler points at it, nothing is done.
    When the target is primary but the pooler still points at the old one (a run stopped after the
    promotion), the pooler is repointed and resumed and the old primary rejoins.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
    details: Runs the pre-checks and returns the plan.
  diff_mode:
    support: none
options:
  pooler:
    description: The pooler container made by P(pgdock.postgres.pooler#module).
    type: str
    required: true
  target:
    description: The standby container (made by P(pgdock.postgres.replica#module)) that becomes the primary.
    type: str
    required: true
  max_lag_bytes:
    description: Refuse when the target's replay lag is larger than this.
    type: int
    default: 16777216
  pause_timeout:
    description: Seconds PAUSE may wait for running transactions before the switchover is aborted.
    type: int
    default: 10
  catchup_timeout:
    description: Seconds to wait for the target to replay the old primary's last WAL, and for its promotion.
    type: int
    default: 30
  stop_timeout:
    description: Seconds for the old primary's clean shutdown.
    type: int
    default: 60
  rejoin:
    description: Make the old primary a standby of the new one.
    type: bool
    default: true
  replication_user:
    description: Replication role the standbys use.
    type: str
    default: replicator
  lock_dir:
    description: Directory of the switchover lock files on the Docker host.
    type: path
    default: /var/lib/pgdock/locks
  wait_timeout:
    description: Seconds to wait for a rolled-back old primary to accept connections, and for the rejoined one to stream.
    type: int
    default: 300
notes:
  - Clients must connect through the pooler in transaction pooling mode; in session mode PAUSE waits
    for clients to disconnect.
  - Clients that arrive during the pause wait in the pooler (up to its C(query_wait_timeout)).
  - After a switchover, name the new primary as the primary in your inventory.
seealso:
  - module: pgdock.postgres.pooler
  - module: pgdock.postgres.replica
"""

EXAMPLES = r"""
- name: Make pg-replica1 the primary, pg-primary its standby
  pgdock.postgres.switchover:
    pooler: pg-pooler
    target: pg-replica1
"""

RETURN = r"""
primary:
  description: The primary after the run.
  returned: always
  type: str
former_primary:
  description: The server that was primary before (null when nothing was done).
  returned: always
  type: str
timings:
  description: Seconds each step took (pause, stop_old_primary, catch_up, promote, repoint, resume, pause_total, rejoin).
  returned: always
  type: dict
prechecks:
  description: What the pre-checks found (lag_bytes, timeline).
  returned: when a switchover was planned
  type: dict
replica:
  description: The rejoined old primary as the new primary sees it (see P(pgdock.postgres.replica#module)).
  returned: when the old primary rejoined
  type: dict
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.switchover.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine
from ansible_collections.pgdock.postgres.plugins.module_utils.switchover.engine import run_switchover


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, run_switchover)


if __name__ == "__main__":
    main()
