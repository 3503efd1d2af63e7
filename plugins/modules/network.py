#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: network
short_description: Manage a user-defined Docker network for PostgreSQL containers
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Creates, updates or removes a user-defined Docker network (never Docker's predefined
    C(bridge), C(host), C(none) or C(default) networks) and attaches containers to it with aliases.
  - User-defined networks give containers name resolution by container name and alias, and keep the
    database tier apart; an O(internal) network has no route to the outside world.
  - Docker cannot change a network's driver, internal flag, attachable flag, addressing or labels in
    place. Such a change recreates the network; when containers are attached, this needs O(force=true),
    and the containers are disconnected and reconnected with their aliases.
  - Networks this module creates carry the label C(org.pgdock.managed-by=pgdock.postgres). An existing
    network without it is used as it is when its config matches the options, and is never recreated;
    it is removed only with O(force=true).
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the driver, internal and attachable flags, addressing (O(subnet), O(gateway),
        O(ip_range)), labels and the attached containers with their aliases.
options:
  name:
    description:
      - Name of the network (letters, digits, V(_), V(.), V(-); starting with a letter or digit).
      - V(bridge), V(host), V(none) and V(default) are refused.
    type: str
    required: true
  state:
    description:
      - V(present) creates the network or brings it in line with the options.
      - V(absent) removes it. It fails when containers are still attached unless O(force=true),
        which disconnects them first. A missing network is not an error.
    type: str
    choices: [present, absent]
    default: present
  driver:
    description:
      - Network driver. V(bridge) connects containers on one host.
      - V(overlay) spans the hosts of a swarm and needs the engine to be a swarm manager
        (C(docker swarm init)); the module fails with a message saying so otherwise.
        Standalone containers can join an overlay network only when it is O(attachable).
    type: str
    choices: [bridge, overlay]
    default: bridge
  internal:
    description:
      - Whether the network is internal, with no route outside the host (for the database tier).
        Containers on it still resolve each other's names.
    type: bool
    default: false
  attachable:
    description:
      - Whether standalone containers may join the network (meaningful for V(overlay)).
    type: bool
    default: false
  subnet:
    description:
      - IPv4 subnet of the network in CIDR form, e.g. V(172.28.0.0/16), without host bits.
      - When not given, Docker chooses one, and an existing network's subnet is kept.
    type: str
  gateway:
    description:
      - IPv4 gateway of O(subnet), a host address inside it. Needs O(subnet).
      - When not given, Docker uses the first address of the subnet.
    type: str
  ip_range:
    description:
      - Range inside O(subnet) from which containers get their addresses, in CIDR form. Needs O(subnet).
    type: str
  labels:
    description:
      - Labels of the network. The label C(org.pgdock.managed-by=pgdock.postgres) is always added.
      - When given, the network's labels must be exactly these (plus the managed label); when not given,
        an existing network's labels are not compared.
    type: dict
  connected:
    description:
      - Containers attached to the network, each with its aliases on it.
      - With O(appends=false) this is the exact list of attached containers, and other containers are
        disconnected; V([]) disconnects all of them. With O(appends=true) only the listed containers are
        attached or updated.
      - When not given, attachments are left as they are.
      - A PostgreSQL container of this collection stays attached through later runs of
        P(pgdock.postgres.container#module) (unless its O(pgdock.postgres.container#module:purge_networks=true)).
        Clients on this network are let in once pg_hba.conf covers its subnet and the server certificate
        names the new aliases - run the server role again, or P(pgdock.postgres.hba#module) with
        O(pgdock.postgres.hba#module:default_rules=true) and P(pgdock.postgres.tls#module) with
        O(pgdock.postgres.tls#module:container).
      - Aliases cannot be changed on an attached container; when they differ, the container is
        disconnected and connected again with the new ones.
    type: list
    elements: dict
    suboptions:
      container:
        description:
          - Name or id of an existing container (running or stopped).
        type: str
        required: true
      aliases:
        description:
          - Extra names under which other containers on the network reach this one. Compared exactly;
            the container's name and the short id Docker adds are not counted.
        type: list
        elements: str
        default: []
  appends:
    description:
      - Whether O(connected) only adds containers (V(true)) or is the exact list of them (V(false)).
    type: bool
    default: false
  force:
    description:
      - With O(state=present), allows recreating a network that has containers attached (they are
        disconnected and reconnected with their aliases).
      - With O(state=absent), disconnects attached containers first, and removes a network not created
        by this collection.
    type: bool
    default: false
notes:
  - The engine lists only running containers in a network's own inspect output; this module also
    counts stopped containers attached to it.
  - Recreating a network changes the IP addresses of the containers reconnected to it; reach them by
    name or alias.
seealso:
  - name: Docker networking overview
    description: Bridge, overlay and internal networks.
    link: https://docs.docker.com/engine/network/
"""

EXAMPLES = r"""
- name: Network of the database tier, with no route outside the host
  pgdock.postgres.network:
    name: pg-backend
    internal: true
    subnet: 172.28.0.0/24
    gateway: 172.28.0.1
    labels:
      tier: database

- name: Attach the primary and a replica with service aliases (others are disconnected)
  pgdock.postgres.network:
    name: pg-backend
    internal: true
    subnet: 172.28.0.0/24
    gateway: 172.28.0.1
    connected:
      - container: pg-primary
        aliases: [db, db-primary]
      - container: pg-replica1
        aliases: [db-replica]

- name: Also attach the application, leaving the other containers as they are
  pgdock.postgres.network:
    name: pg-backend
    internal: true
    subnet: 172.28.0.0/24
    gateway: 172.28.0.1
    appends: true
    connected:
      - container: app

- name: Remove the network, disconnecting whatever is still attached
  pgdock.postgres.network:
    name: pg-backend
    state: absent
    force: true
"""

RETURN = r"""
network:
  description:
    - The network after the run; empty when it does not exist.
    - In check mode, the network as it is now (the run changed nothing).
  returned: always
  type: dict
  contains:
    id:
      description: Id of the network.
      type: str
      sample: 6b23429e612cc1ee2aa79f1c160223c09ffa0c72a66b305a91f80d5bf9e72230
    name:
      description: Name of the network.
      type: str
      sample: pg-backend
    driver:
      description: Network driver.
      type: str
      sample: bridge
    internal:
      description: Whether the network is internal.
      type: bool
      sample: true
    attachable:
      description: Whether standalone containers may join it.
      type: bool
      sample: false
    subnet:
      description: IPv4 subnet.
      type: str
      sample: 172.28.0.0/24
    gateway:
      description:
        - IPv4 gateway; null when Docker chose it without recording it (Docker 20.10 does so when
          O(subnet) is given without O(gateway)).
      type: str
      sample: 172.28.0.1
    ip_range:
      description: Address range for containers, when one was set.
      type: str
      sample: 172.28.0.128/25
    labels:
      description: Labels of the network.
      type: dict
      sample: {"org.pgdock.managed-by": "pgdock.postgres", "tier": "database"}
    containers:
      description:
        - Attached containers (running and stopped) by name, with their IPv4 address
          (null when stopped) and the aliases a user set.
      type: dict
      sample: {"pg-primary": {"ipv4_address": "172.28.0.2", "aliases": ["db", "db-primary"]}}
actions:
  description: What was done, or in check mode what would be done, in order.
  returned: always
  type: list
  elements: str
  sample:
    - create network pg-backend (bridge, internal, subnet 172.28.0.0/24)
    - connect container pg-primary to network pg-backend with aliases db, db-primary
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.network.engine import ensure_network
from ansible_collections.pgdock.postgres.plugins.module_utils.network.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_network)


if __name__ == "__main__":
    main()
