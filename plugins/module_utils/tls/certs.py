# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 with the `cryptography` library, pure (no files, no network): keys, certificates and what
they say (subject, SANs, usage, issuer, validity), what makes one unfit for its use and why, and the
CA and leaf certificates the tls module issues."""

from __future__ import annotations

import datetime
import ipaddress
import re
import traceback
from dataclasses import dataclass

from ansible_collections.pgdock.postgres.plugins.module_utils.addresses import is_ip
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import iso

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported through fail_json
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

DEFAULT_SANS = ("localhost", "127.0.0.1")
KEY_TYPES = ("ec-p256", "rsa-2048", "rsa-3072", "rsa-4096")
CLOCK_SKEW = datetime.timedelta(minutes=5)
DNS_NAME_RE = re.compile(r"^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


@dataclass
class LeafSpec:
    """What a server or client certificate must say: subject CN, SANs (None: not compared), usage."""

    common_name: str
    sans: list | None = None
    usage: str = "server"
    key_type: str = "ec-p256"

    def describe(self) -> str:
        """E.g. 'CN=db (SANs: db, localhost, 127.0.0.1)'."""
        return f"CN={self.common_name}" + (f" (SANs: {', '.join(self.sans)})" if self.sans else "")


def serial_hex(cert) -> str:
    """The serial number as `openssl x509 -serial` prints it (upper-case hex, even length)."""
    text = format(cert.serial_number, "X")
    return text if len(text) % 2 == 0 else "0" + text


def normalise_san(entry: str, option: str = "subject_alt_names") -> str:
    """A SAN entry in canonical form (IP addresses compressed, names lower-case)."""
    value = str(entry).strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if len(value) > 253 or not DNS_NAME_RE.match(value):
        raise PgdockError(f"{option}: {entry!r} is neither an IP address nor a DNS name")
    return value.rstrip(".").lower()


def is_san(entry: str) -> bool:
    """Whether `entry` can be a SAN (a common name such as 'My DB' cannot)."""
    try:
        normalise_san(entry)
    except PgdockError:
        return False
    return True


def desired_sans(common_name: str, extra: list, container_name: str | None = None,
                 aliases: list | None = None) -> list[str]:
    """SANs of the server certificate: localhost, 127.0.0.1, the common name when it is a host name,
    the container's name and aliases, and the extra ones; sorted, without duplicates."""
    names = list(DEFAULT_SANS) + list(extra or []) + list(aliases or [])
    names += [n for n in (common_name, container_name) if n and is_san(n)]
    return sorted({normalise_san(n) for n in names}, key=san_sort_key)


def san_sort_key(entry: str) -> tuple:
    """Names before addresses, each alphabetically."""
    return (is_ip(entry), entry)


def san_extension(sans: list[str]):
    """A SubjectAlternativeName extension for canonical entries."""
    return x509.SubjectAlternativeName([
        x509.IPAddress(ipaddress.ip_address(n)) if is_ip(n) else x509.DNSName(n) for n in sans])


def cert_sans(cert) -> list[str]:
    """The SANs of a certificate in desired_sans' form; other kinds prefixed with their type."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    found = set()
    for name in names:
        if isinstance(name, x509.DNSName):
            found.add(name.value.rstrip(".").lower())
        elif isinstance(name, x509.IPAddress):
            found.add(str(name.value))
        else:
            found.add(f"{type(name).__name__}:{name.value}")
    return sorted(found, key=san_sort_key)


def common_name_of(name) -> str | None:
    """The CN of an x509 Name, or None."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def load_cert(data: bytes | str, what: str, single: bool = False):
    """The (first) certificate of PEM data; with `single`, refuse more than one."""
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PgdockError(f"{what}: not a PEM certificate") from None
    if single and len(certs) > 1:
        raise PgdockError(f"{what}: holds {len(certs)} certificates; give the issuing CA's certificate alone")
    return certs[0]


def load_key(data: bytes | str, what: str, passphrase: str | None = None):
    """A PEM private key (optionally encrypted with `passphrase`); the message never quotes the key."""
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    try:
        return serialization.load_pem_private_key(
            data, password=passphrase.encode("utf-8") if passphrase else None)
    except TypeError:
        hint = "it is encrypted: give ownca_key_passphrase" if not passphrase else "it is not encrypted"
        raise PgdockError(f"{what}: cannot load the private key ({hint})") from None
    except (ValueError, UnsupportedAlgorithm):
        raise PgdockError(f"{what}: not a PEM private key, or the passphrase is wrong") from None


def generate_key(key_type: str):
    """A new private key of a KEY_TYPES kind."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.split("-")[1]))


def key_type_of(key) -> str:
    """The KEY_TYPES name of a private or public key (other kinds: a descriptive name)."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ec-p256" if key.curve.name == "secp256r1" else f"ec-{key.curve.name}"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa-{key.key_size}"
    return type(key).__name__.lstrip("_").lower()


def key_pem(key) -> str:
    """A private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def cert_pem(cert) -> str:
    """A certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def keys_match(cert, key) -> bool:
    """Whether `key` is the private key of `cert`."""
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def signing_hash(key):
    """The digest to sign with `key` (Ed25519/Ed448 take none)."""
    return None if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()


def issued_by(cert, ca_cert) -> bool:
    """Whether `cert` was signed by `ca_cert`'s key under its subject."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def validity_problem(cert, now: datetime.datetime, renew_before: int = 0) -> str | None:
    """Why `cert` is not (or soon no longer) valid at `now`; None when it is fine."""
    if now < cert.not_valid_before_utc:
        return f"it is not valid before {iso(cert.not_valid_before_utc, seconds=True)}"
    if now >= cert.not_valid_after_utc:
        return f"it expired on {iso(cert.not_valid_after_utc, seconds=True)}"
    left = cert.not_valid_after_utc - now
    if left <= datetime.timedelta(days=renew_before):
        return (f"it expires on {iso(cert.not_valid_after_utc, seconds=True)} (in {left.days} days), within "
                f"renew_before ({renew_before} days)")
    return None


def ca_defects(cert, key) -> list[str]:
    """Why `cert` with `key` cannot act as a CA (validity not included)."""
    defects = []
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        defects.append("it is not a CA certificate (no basicConstraints CA:TRUE)")
    try:
        if not cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            defects.append("its keyUsage does not allow signing certificates (keyCertSign)")
    except x509.ExtensionNotFound:
        pass
    if key is not None and not keys_match(cert, key):
        defects.append("the CA key does not match the CA certificate")
    return defects


def leaf_problems(cert_text: str | None, key_text: str | None, spec: LeafSpec, ca_cert,
                  now: datetime.datetime, renew_before: int) -> list[str]:
    """Why a server or client certificate (PEM text of cert and key as found) must be reissued;
    empty when it can stay."""
    if cert_text is None or key_text is None:
        return [f"the {'certificate' if cert_text is None else 'key'} file is missing"]
    try:
        cert = load_cert(cert_text, "certificate")
        key = serialization.load_pem_private_key(key_text.encode("ascii", "replace"), password=None)
    except (PgdockError, ValueError, TypeError, UnsupportedAlgorithm):
        return ["the certificate or key file is not readable PEM (unencrypted key)"]
    problems = []
    if not keys_match(cert, key):
        problems.append("the key does not match the certificate")
    if key_type_of(key) != spec.key_type:
        problems.append(f"the key is {key_type_of(key)}, key_type asks for {spec.key_type}")
    if not issued_by(cert, ca_cert):
        problems.append("it was not issued by the current CA")
    subject = common_name_of(cert.subject)
    if subject != spec.common_name:
        problems.append(f"the subject differs (CN={subject} -> CN={spec.common_name})")
    if spec.sans is not None:
        have = cert_sans(cert)
        if have != spec.sans:
            added = [n for n in spec.sans if n not in have]
            removed = [n for n in have if n not in spec.sans]
            problems.append("the subject alternative names differ ("
                            + "; ".join(filter(None, [added and "add " + ", ".join(added),
                                                      removed and "remove " + ", ".join(removed)])) + ")")
    if usage_oid(spec.usage) not in extended_usages(cert):
        problems.append(f"it is not a {spec.usage} certificate (extendedKeyUsage)")
    validity = validity_problem(cert, now, renew_before)
    if validity:
        problems.append(validity)
    return problems


def usage_oid(usage: str):
    """The extendedKeyUsage of a server or client certificate."""
    return ExtendedKeyUsageOID.SERVER_AUTH if usage == "server" else ExtendedKeyUsageOID.CLIENT_AUTH


def extended_usages(cert) -> list:
    """The extendedKeyUsage OIDs of a certificate (empty when it has none)."""
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def _builder(subject: str, issuer, public_key, now: datetime.datetime, days: int):
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _key_usage(**allowed):
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    flags.update(allowed)
    return x509.KeyUsage(**flags)


def issue_ca(key, common_name: str, days: int, now: datetime.datetime):
    """A self-signed CA certificate that may sign end-entity certificates only."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (_builder(common_name, name, key.public_key(), now, days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
            .sign(key, signing_hash(key)))


def issue_leaf(spec: LeafSpec, key, ca_cert, ca_key, days: int, now: datetime.datetime):
    """A server or client certificate for `spec`, signed by the CA."""
    builder = (_builder(spec.common_name, ca_cert.subject, key.public_key(), now, days)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
                              critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_key_usage(digital_signature=True,
                                         key_encipherment=isinstance(key, rsa.RSAPrivateKey)), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage_oid(spec.usage)]), critical=False))
    if spec.sans:
        builder = builder.add_extension(san_extension(spec.sans), critical=False)
    return builder.sign(ca_key, signing_hash(ca_key))


def cert_info(cert, show_serial: bool = True) -> dict:
    """A certificate as returned to the user (no key material)."""
    info = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": serial_hex(cert) if show_serial else None,
        "not_before": iso(cert.not_valid_before_utc, seconds=True),
        "not_after": iso(cert.not_valid_after_utc, seconds=True),
        "key_type": key_type_of(cert.public_key()),
    }
    sans = cert_sans(cert)
    if sans:
        info["subject_alt_names"] = sans
    return info
