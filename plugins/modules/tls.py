#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tls
short_description: TLS certificates for a PostgreSQL container (CA, server, clients)
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Creates or reuses a certificate authority, issues the server certificate of a PostgreSQL container
    and client certificates for C(cert) authentication, with the Python C(cryptography) library.
  - The CA is created in O(ca_dir) (key mode 0600, owned by the user running the module, normally root)
    unless the user's own CA is given with O(ownca_cert) and O(ownca_key). The CA key is never written to the
    container's secrets directory.
  - C(server.crt) (0644), C(server.key) (0600) and C(ca.crt) (0644) are written to O(dest_dir), owned by
    the container's postgres uid. This is the secrets directory that P(pgdock.postgres.container#module)
    mounts read-only at C(/run/secrets/pgdock); the returned RV(settings) are the server settings that
    make PostgreSQL use these files (pass them in the container module's
    O(pgdock.postgres.container#module:settings)).
  - The server certificate names the common name, C(localhost), C(127.0.0.1), the container's name and
    its network aliases (when O(container) exists) and O(subject_alt_names).
  - A certificate is (re)issued, with a new key, only when a file is missing or unreadable, its key does
    not match it or is not of O(key_type), it was not issued by the CA, its subject or subject alternative
    names differ, it expires within O(renew_before) days, or O(force=true).
  - After a change of the server's files, a running O(container) reloads its configuration with the SQL
    function C(pg_reload_conf), which makes new connections use the new certificate; the container is not
    restarted. The module then checks that the server presents the new certificate. A running server that
    still presents another certificate than the files hold is reloaded too.
  - Every input is checked before anything is written. A given CA that is expired or not yet valid, is
    not a CA, may not sign certificates, or whose key does not match it, is refused and nothing changes.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
  - pgdock.postgres.postgres
  - pgdock.postgres.postgres.login_alias
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows each certificate (subject, issuer, serial, validity, key type, SANs) and the mode and
        owner of each file. A certificate that would be issued in check mode shows a null serial.
options:
  dest_dir:
    description:
      - Host directory for C(server.crt), C(server.key) and C(ca.crt); the container's
        O(pgdock.postgres.container#module:secrets_dir).
      - Defaults to the directory O(container) mounts at C(/run/secrets/pgdock). Required when O(container) is
        not given or does not exist yet (a first deployment writes the files before the container is created).
    type: path
  container:
    description:
      - A container made by P(pgdock.postgres.container#module), running or not, or not created yet.
      - When it exists, its name and network aliases are added to the server certificate's SANs, O(dest_dir)
        defaults to its secrets directory, and when it runs it is reloaded after a change (its published port,
        superuser and password file fill in the login options not given).
      - When it does not exist yet, only its name is added to the SANs; give its aliases in
        O(subject_alt_names) so that the certificate does not change once it exists.
    type: str
  postgres_uid:
    description: Uid (and gid) of the postgres user inside the image; owns the server's files.
    type: int
    default: 999
  ca_dir:
    description:
      - Directory of the CA this module creates (C(ca.crt) mode 0644, C(ca.key) mode 0600, directory mode 0700),
        used when O(ownca_cert) is not given. The CA is created when the directory holds none, and replaced (with a
        warning) when it expires within O(renew_before) days.
      - Must be outside O(dest_dir).
      - The default is one directory for every call that does not set it, so every server on the host that
        relies on it shares one CA; give each stack its own (the server role uses
        C(/var/lib/pgdock/<server>/ca)) for two stacks that must not trust each other's certificates.
    type: path
    default: /var/lib/pgdock/ca
  ownca_cert:
    description:
      - The user's CA certificate, as a path on the Docker host or as PEM text. One certificate, the CA that
        signs the server and client certificates. Needs O(ownca_key).
      - The alias O(ca_cert) is deprecated and goes in 2.0.0; there C(ca_cert) becomes what it is in the
        other modules, the CA that verifies the server (O(ssl_rootcert)).
    type: str
    aliases: [ca_cert]
  ownca_key:
    description:
      - The private key of O(ownca_cert), as a path on the Docker host or as PEM text.
      - The alias O(ca_key) is deprecated and goes in 2.0.0.
    type: str
    aliases: [ca_key]
  ownca_key_passphrase:
    description:
      - Passphrase of an encrypted O(ownca_key).
      - The alias O(ca_key_passphrase) is deprecated and goes in 2.0.0.
    type: str
    aliases: [ca_key_passphrase]
  ssl_rootcert:
    description:
      - CA certificate that verifies the server (libpq sslrootcert).
      - In this module C(ca_cert) is not its alias but the deprecated name of O(ownca_cert), until 2.0.0.
    type: path
  ca_common_name:
    description: Common name of a CA this module creates (not compared afterwards).
    type: str
    default: pgdock.postgres CA
  ca_validity_days:
    description: Validity in days of a CA this module creates.
    type: int
    default: 3650
  common_name:
    description:
      - Common name (subject) of the server certificate; added to the SANs when it is a host name or address.
      - Defaults to O(container), or V(localhost) without it.
    type: str
  subject_alt_names:
    description:
      - Extra DNS names and IP addresses of the server certificate, besides V(localhost), V(127.0.0.1), the
        common name and the container's name and aliases. Compared as a set.
    type: list
    elements: str
    default: []
  container_aliases:
    description:
      - Add the aliases the O(container) has on its networks now, also on networks attached outside this
        collection's server role (P(pgdock.postgres.network#module) with O(pgdock.postgres.network#module:containers)).
      - Set V(false) when the container's networks are exactly the listed ones
        (O(pgdock.postgres.container#module:purge_networks=true)); the SANs are then the container's name and
        O(subject_alt_names) only, and the aliases of a network the container task is about to detach never
        enter the certificate.
    type: bool
    default: true
  client_certs:
    description:
      - Roles that get a client certificate (CN = role name) for C(hostssl ... cert) lines in C(pg_hba.conf).
      - Written to O(client_dir) as C(<role>.crt) (0644) and C(<role>.key) (0600), with C(ca.crt).
        Certificates of roles no longer listed are left in place.
    type: list
    elements: str
    default: []
  client_dir:
    description:
      - Host directory for the client certificates; required with O(client_certs).
      - Must differ from O(dest_dir) and O(ca_dir).
    type: path
  client_uid:
    description: Uid (and gid) that owns the client files. Defaults to the user running the module.
    type: int
  key_type:
    description:
      - Key type of new keys (server, clients, and a CA this module creates).
      - A change reissues the server and client certificates.
    type: str
    choices: [ec-p256, rsa-2048, rsa-3072, rsa-4096]
    default: ec-p256
  validity_days:
    description: Validity in days of the server and client certificates.
    type: int
    default: 397
  renew_before:
    description:
      - Certificates that expire within this many days are reissued (a CA this module created is replaced).
      - Must be smaller than O(validity_days).
    type: int
    default: 30
  force:
    description:
      - Reissue the server and client certificates (with new keys) even when they are valid. The CA is kept.
    type: bool
    default: false
  reload:
    description: Reload a running O(container) after a change of its files.
    type: bool
    default: true
requirements:
  - cryptography >= 42.0
notes:
  - PostgreSQL reads the certificate files at start and on reload; the settings C(ssl_cert_file), C(ssl_key_file)
    and C(ssl_ca_file) point into the mounted secrets directory (see RV(settings)).
  - Connections that exist during a reload keep their TLS session; new ones get the new certificate.
  - Return values never contain key material.
seealso:
  - module: pgdock.postgres.container
  - name: PostgreSQL secure TCP/IP connections with SSL
    description: Server files and settings.
    link: https://www.postgresql.org/docs/current/ssl-tcp.html
  - name: Certificate authentication
    description: The C(cert) method of pg_hba.conf; the certificate's CN is the role name.
    link: https://www.postgresql.org/docs/current/auth-cert.html
"""

EXAMPLES = r"""
- name: Certificates before the first start, in the secrets directory the container will mount
  pgdock.postgres.tls:
    dest_dir: /var/lib/pgdock/pg-main/secrets
    container: pg-main
    subject_alt_names: [primary, db.example.com]
    client_certs: [replicator, backup]
    client_dir: /etc/pgdock/clients
  register: pg_tls

- name: The container, with TLS on
  pgdock.postgres.container:
    name: pg-main
    superuser_password: "{{ vault_pg_superuser_password }}"
    networks:
      - name: pg-backend
        aliases: [primary]
    published_port: 5432
    settings: "{{ pg_tls.settings }}"

- name: Later runs reissue when needed and reload the running server
  pgdock.postgres.tls:
    container: pg-main
    subject_alt_names: [primary, db.example.com]
    client_certs: [replicator, backup]
    client_dir: /etc/pgdock/clients

- name: With the organisation's CA, RSA keys, renewed 60 days before expiry
  pgdock.postgres.tls:
    container: pg-main
    ownca_cert: /etc/pki/pg-ca.crt
    ownca_key: "{{ vault_pg_ca_key }}"
    key_type: rsa-3072
    renew_before: 60

- name: Rotate now
  pgdock.postgres.tls:
    container: pg-main
    force: true
"""

RETURN = r"""
ca:
  description: The CA certificate (in check mode, a CA that would be created has a null serial).
  returned: always
  type: dict
  contains:
    subject:
      description: Subject (RFC 4514).
      type: str
      sample: CN=pgdock.postgres CA
    issuer:
      description: Issuer (RFC 4514).
      type: str
      sample: CN=pgdock.postgres CA
    serial:
      description: Serial number in upper-case hex, as C(openssl x509 -serial) prints it.
      type: str
      sample: 3A5F0C9D2E71B4A8C6D0E1F2A3B4C5D6E7F80912
    not_before:
      description: Start of validity (UTC).
      type: str
      sample: "2025-01-01T12:00:00Z"
    not_after:
      description: End of validity (UTC).
      type: str
      sample: "2035-01-01T12:00:00Z"
    key_type:
      description: Key type.
      type: str
      sample: ec-p256
    source:
      description: V(generated) (in O(ca_dir)) or V(provided) (O(ownca_cert)).
      type: str
      sample: generated
    cert_file:
      description: Path of the CA certificate in O(ca_dir); null for a provided CA.
      type: str
    key_file:
      description: Path of the CA key in O(ca_dir); null for a provided CA.
      type: str
    issued:
      description: Whether the CA was created by this run.
      type: bool
    reasons:
      description: Why it was created.
      type: list
      elements: str
server:
  description:
    - The server certificate after the run, with the same keys as RV(ca) (except source) and these.
    - In check mode, a certificate that would be issued is described as it would be, with a null serial.
  returned: always
  type: dict
  contains:
    subject_alt_names:
      description: DNS names and addresses the certificate is valid for.
      type: list
      elements: str
      sample: [localhost, pg-main, primary, 127.0.0.1]
    cert_file:
      description: Host path of C(server.crt).
      type: str
    key_file:
      description: Host path of C(server.key).
      type: str
    ca_file:
      description: Host path of C(ca.crt) next to them.
      type: str
    issued:
      description: Whether the certificate was (or in check mode would be) issued by this run.
      type: bool
    reasons:
      description: Why it was issued.
      type: list
      elements: str
      sample: ["the subject alternative names differ (add db.example.com)"]
    serial:
      description: Serial number in upper-case hex.
      type: str
    not_after:
      description: End of validity (UTC).
      type: str
clients:
  description: Per role in O(client_certs), its certificate, described like RV(server).
  returned: always
  type: dict
  sample: {"replicator": {"subject": "CN=replicator", "serial": "1F2E...", "not_after": "2026-02-02T12:00:00Z",
           "cert_file": "/etc/pgdock/clients/replicator.crt", "key_file": "/etc/pgdock/clients/replicator.key",
           "issued": true, "reasons": ["the certificate file is missing"]}}
settings:
  description: Server settings that enable TLS with these files (for the container module's settings).
  returned: always
  type: dict
  sample: {"ssl": "on", "ssl_cert_file": "/run/secrets/pgdock/server.crt",
           "ssl_key_file": "/run/secrets/pgdock/server.key", "ssl_ca_file": "/run/secrets/pgdock/ca.crt"}
dest_dir:
  description: Directory the server's files were written to.
  returned: always
  type: str
  sample: /var/lib/pgdock/pg-main/secrets
reloaded:
  description: Whether the server's configuration was (or in check mode would be) reloaded.
  returned: always
  type: bool
actions:
  description: What was done, or in check mode what would be done, in order, with the reasons.
  returned: always
  type: list
  elements: str
  sample:
    - "issue server certificate CN=pg-main (SANs: localhost, pg-main, primary, 127.0.0.1): it expires on
       2026-02-02T12:00:00Z (in 20 days), within renew_before (30 days)"
    - write /var/lib/pgdock/pg-main/secrets/server.key (0600, 999:999)
    - write /var/lib/pgdock/pg-main/secrets/server.crt (0644, 999:999)
    - reload the configuration of container pg-main (its files changed)
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.tls.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine
from ansible_collections.pgdock.postgres.plugins.module_utils.tls.engine import ensure_tls


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_tls, needs_docker=False)


if __name__ == "__main__":
    main()
