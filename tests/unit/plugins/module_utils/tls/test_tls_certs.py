"""Unit tests of the tls engine's pure logic: SANs, option checks, CA validity, and the decision whether
a server or client certificate must be reissued, with certificates generated here."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.tls.certs import (
    ca_defects,
    cert_info,
    cert_pem,
    cert_sans,
    desired_sans,
    generate_key,
    issue_ca,
    issue_leaf,
    issued_by,
    key_pem,
    key_type_of,
    keys_match,
    leaf_problems,
    LeafSpec,
    load_cert,
    load_key,
    normalise_san,
    serial_hex,
    validity_problem,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.tls.engine import (
    check_directories,
    pem_option,
    validate_options,
)

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
SANS = ["db", "localhost", "127.0.0.1"]


@pytest.fixture(scope="module")
def ca():
    """(cert, key) of a CA valid around NOW."""
    key = generate_key("ec-p256")
    return issue_ca(key, "Test CA", 3650, NOW - 10 * DAY), key


@pytest.fixture(scope="module")
def other_ca():
    key = generate_key("ec-p256")
    return issue_ca(key, "Test CA", 3650, NOW - 10 * DAY), key


def server_spec(**over) -> LeafSpec:
    fields = dict(common_name="db", sans=list(SANS), usage="server", key_type="ec-p256")
    fields.update(over)
    return LeafSpec(**fields)


def issue(ca_pair, spec=None, days=397, issued_at=NOW - DAY, key_type="ec-p256"):
    """(cert PEM, key PEM) of a certificate for `spec` signed by `ca_pair`."""
    key = generate_key(key_type)
    cert = issue_leaf(spec or server_spec(key_type=key_type), key, ca_pair[0], ca_pair[1], days, issued_at)
    return cert_pem(cert), key_pem(key)


def raw_cert(key, not_before, not_after, ca=True, key_cert_sign=True, signer=None):
    """A self-signed certificate built by hand (for CAs the module would never create)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "User CA")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if not key_cert_sign:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                        critical=True)
    return builder.sign(signer or key, hashes.SHA256())


def params(**over) -> dict:
    """Module params as AnsibleModule fills them in."""
    p = dict(dest_dir="/srv/pg/secrets", container=None, ownca_cert=None, ownca_key=None, ca_dir="/var/lib/pgdock/ca",
             common_name=None, ca_common_name="pgdock.postgres CA", subject_alt_names=[], client_certs=[],
             client_dir=None, validity_days=397, ca_validity_days=3650, renew_before=30)
    p.update(over)
    return p


# ---------------------------------------------------------------- SANs

@pytest.mark.parametrize("entry, canonical", [
    ("DB.Example.com", "db.example.com"), ("db.example.com.", "db.example.com"), ("127.0.0.1", "127.0.0.1"),
    ("::0001", "::1"), ("*.svc.local", "*.svc.local"), ("pg_primary", "pg_primary"),
])
def test_normalise_san(entry, canonical):
    assert normalise_san(entry) == canonical


@pytest.mark.parametrize("entry", ["my db", "", "a..b", "-x", "db/1", "é.example", "x" * 254])
def test_normalise_san_refuses_what_is_no_name(entry):
    with pytest.raises(PgdockError, match="neither an IP address nor a DNS name"):
        normalise_san(entry)


def test_desired_sans_defaults_container_aliases_deduplicated():
    sans = desired_sans("pg-main", ["Primary", "10.0.0.5"], "pg-main", ["primary", "db"])
    assert sans == ["db", "localhost", "pg-main", "primary", "10.0.0.5", "127.0.0.1"]


def test_desired_sans_skip_a_common_name_that_is_no_host_name():
    assert desired_sans("Main Database", [], None, None) == ["localhost", "127.0.0.1"]


def test_cert_sans_read_back_what_was_issued(ca):
    spec = server_spec(sans=desired_sans("db", ["::1", "db.example.com"]))
    cert = load_cert(issue(ca, spec)[0], "test")
    assert cert_sans(cert) == spec.sans == ["db", "db.example.com", "localhost", "127.0.0.1", "::1"]


# ---------------------------------------------------------------- options

@pytest.mark.parametrize("over, message", [
    (dict(dest_dir=None), "dest_dir or container is required"),
    (dict(validity_days=30), r"validity_days \(30\) must be larger than renew_before"),
    (dict(renew_before=-1), "must be larger than renew_before"),
    (dict(ca_validity_days=20), r"ca_validity_days \(20\) must be larger"),
    (dict(common_name="x" * 65), "common_name: .* 1 to 64 characters"),
    (dict(subject_alt_names=["bad name"]), "subject_alt_names: 'bad name' is neither"),
    (dict(client_certs=["app"]), "client_dir is required with client_certs"),
    (dict(client_certs=["app", "app"], client_dir="/c"), "listed more than once"),
    (dict(client_certs=["../etc"], client_dir="/c"), "client_certs: '../etc' is not a role name"),
    (dict(client_certs=["x" * 64], client_dir="/c"), "is not a role name"),
])
def test_validate_options_refuses(over, message):
    with pytest.raises(PgdockError, match=message):
        validate_options(params(**over))


def test_validate_options_accepts_defaults_and_a_user_ca_with_short_ca_validity():
    validate_options(params())
    validate_options(params(dest_dir=None, container="pg", ownca_cert="/ca.crt", ownca_key="/ca.key",
                            ca_validity_days=1, client_certs=["app_user", "rep.1"], client_dir="/c"))


@pytest.mark.parametrize("ca_dir, client_dir, message", [
    ("/srv/pg/secrets", None, "ca_dir: .* must be outside dest_dir"),
    ("/srv/pg/secrets/ca", None, "must be outside dest_dir"),
    ("/srv/pg", None, "must be outside dest_dir"),
    ("/srv/ca", "/srv/pg/secrets", "client_dir: .* must differ"),
    ("/srv/ca", "/srv/ca", "client_dir: .* must differ"),
])
def test_check_directories_keeps_the_ca_key_out_of_the_container(ca_dir, client_dir, message):
    with pytest.raises(PgdockError, match=message):
        check_directories("/srv/pg/secrets", ca_dir, client_dir)


def test_check_directories_accepts_separate_directories():
    check_directories("/srv/pg/secrets", "/srv/pg-ca", "/srv/pg/clients")
    check_directories("/srv/pg/secrets", None, None)


# ---------------------------------------------------------------- PEM input, keys

def test_pem_option_takes_content_or_a_path(tmp_path, ca):
    text = cert_pem(ca[0])
    path = tmp_path / "ca.crt"
    path.write_text(text)
    assert pem_option(text, "ca_cert") == pem_option(str(path), "ca_cert") == text.encode()
    with pytest.raises(PgdockError, match=f"ca_cert: cannot read {tmp_path}/missing"):
        pem_option(str(tmp_path / "missing"), "ca_cert")


def test_load_cert_refuses_garbage_and_bundles(ca, other_ca):
    with pytest.raises(PgdockError, match="ca_cert: not a PEM certificate"):
        load_cert(b"hello", "ca_cert")
    bundle = cert_pem(ca[0]) + cert_pem(other_ca[0])
    assert load_cert(bundle, "x").serial_number == ca[0].serial_number
    with pytest.raises(PgdockError, match="holds 2 certificates"):
        load_cert(bundle, "ca_cert", single=True)


def test_load_key_encrypted_needs_the_passphrase_and_never_quotes_the_key():
    key = generate_key("ec-p256")
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"s3cret"))
    assert keys_match(issue_ca(key, "x", 10, NOW), load_key(encrypted, "ca_key", "s3cret"))
    with pytest.raises(PgdockError, match="encrypted: give ownca_key_passphrase"):
        load_key(encrypted, "ca_key")
    with pytest.raises(PgdockError, match="passphrase is wrong") as info:
        load_key(encrypted, "ca_key", "wrong")
    assert "PRIVATE KEY" not in str(info.value)
    with pytest.raises(PgdockError, match="not a PEM private key"):
        load_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "ca_key")


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-2048", "rsa-3072"])
def test_generate_key_of_each_type(key_type):
    key = generate_key(key_type)
    assert key_type_of(key) == key_type == key_type_of(key.public_key())


def test_key_type_of_other_curves():
    assert key_type_of(ec.generate_private_key(ec.SECP384R1())) == "ec-secp384r1"


# ---------------------------------------------------------------- CA validity

def test_a_created_ca_is_a_valid_ca(ca):
    cert, key = ca
    assert ca_defects(cert, key) == []
    assert validity_problem(cert, NOW) is None
    assert cert_info(cert)["subject"] == cert_info(cert)["issuer"] == "CN=Test CA"


def test_ca_defects_name_each_problem(ca):
    key = generate_key("ec-p256")
    leaf = raw_cert(key, NOW - DAY, NOW + DAY, ca=False)
    assert ca_defects(leaf, key) == ["it is not a CA certificate (no basicConstraints CA:TRUE)"]
    assert ca_defects(raw_cert(key, NOW - DAY, NOW + DAY, ca=None), key)[0].startswith("it is not a CA")
    no_sign = raw_cert(key, NOW - DAY, NOW + DAY, key_cert_sign=False)
    assert ca_defects(no_sign, key) == ["its keyUsage does not allow signing certificates (keyCertSign)"]
    assert ca_defects(ca[0], key) == ["the CA key does not match the CA certificate"]


def test_validity_problem_expired_not_yet_valid_and_renew_before():
    key = generate_key("ec-p256")
    expired = raw_cert(key, NOW - 100 * DAY, NOW - DAY)
    future = raw_cert(key, NOW + DAY, NOW + 100 * DAY)
    soon = raw_cert(key, NOW - DAY, NOW + 10 * DAY)
    assert validity_problem(expired, NOW) == "it expired on 2030-05-31T12:00:00Z"
    assert validity_problem(future, NOW) == "it is not valid before 2030-06-02T12:00:00Z"
    assert validity_problem(soon, NOW) is None
    assert validity_problem(soon, NOW, 9) is None
    assert validity_problem(soon, NOW, 10) == ("it expires on 2030-06-11T12:00:00Z (in 10 days), within "
                                               "renew_before (10 days)")


# ---------------------------------------------------------------- reissue decisions

def test_a_fresh_certificate_stays(ca):
    cert_text, key_text = issue(ca)
    assert leaf_problems(cert_text, key_text, server_spec(), ca[0], NOW, 30) == []


def test_missing_or_unreadable_files(ca):
    cert_text, key_text = issue(ca)
    spec = server_spec()
    assert leaf_problems(None, key_text, spec, ca[0], NOW, 30) == ["the certificate file is missing"]
    assert leaf_problems(cert_text, None, spec, ca[0], NOW, 30) == ["the key file is missing"]
    assert leaf_problems("junk", key_text, spec, ca[0], NOW, 30)[0].startswith("the certificate or key file is not")
    assert leaf_problems(cert_text, "junk", spec, ca[0], NOW, 30)[0].startswith("the certificate or key file is not")


def test_a_replaced_key_is_noticed(ca):
    cert_text = issue(ca)[0]
    other_key = key_pem(generate_key("ec-p256"))
    assert leaf_problems(cert_text, other_key, server_spec(), ca[0], NOW, 30) == [
        "the key does not match the certificate"]


def test_another_key_type_is_noticed(ca):
    cert_text, key_text = issue(ca, key_type="rsa-2048")
    assert leaf_problems(cert_text, key_text, server_spec(), ca[0], NOW, 30) == [
        "the key is rsa-2048, key_type asks for ec-p256"]


def test_a_certificate_of_another_ca_is_noticed(ca, other_ca):
    cert_text, key_text = issue(other_ca)
    assert not issued_by(load_cert(cert_text, "x"), ca[0])
    assert leaf_problems(cert_text, key_text, server_spec(), ca[0], NOW, 30) == [
        "it was not issued by the current CA"]


def test_subject_and_san_changes_are_described(ca):
    cert_text, key_text = issue(ca)
    assert leaf_problems(cert_text, key_text, server_spec(common_name="pg"), ca[0], NOW, 30) == [
        "the subject differs (CN=db -> CN=pg)"]
    changed = server_spec(sans=["localhost", "primary", "127.0.0.1"])
    assert leaf_problems(cert_text, key_text, changed, ca[0], NOW, 30) == [
        "the subject alternative names differ (add primary; remove db)"]
    assert leaf_problems(cert_text, key_text, server_spec(sans=SANS + ["10.1.1.1"]), ca[0], NOW, 30) == [
        "the subject alternative names differ (add 10.1.1.1)"]


def test_client_certificate_sans_are_not_compared_but_its_usage_is(ca):
    client = LeafSpec("app", None, "client", "ec-p256")
    cert_text, key_text = issue(ca, client)
    assert leaf_problems(cert_text, key_text, client, ca[0], NOW, 30) == []
    assert cert_sans(load_cert(cert_text, "x")) == []
    assert leaf_problems(cert_text, key_text, LeafSpec("app", None, "server"), ca[0], NOW, 30) == [
        "it is not a server certificate (extendedKeyUsage)"]


def test_renew_before_larger_than_what_is_left_reissues(ca):
    cert_text, key_text = issue(ca, days=60, issued_at=NOW - 20 * DAY)  # 40 days left
    assert leaf_problems(cert_text, key_text, server_spec(), ca[0], NOW, 39) == []
    reasons = leaf_problems(cert_text, key_text, server_spec(), ca[0], NOW, 40)
    assert reasons == ["it expires on 2030-07-11T12:00:00Z (in 40 days), within renew_before (40 days)"]
    expired = leaf_problems(cert_text, key_text, server_spec(), ca[0], NOW + 50 * DAY, 0)
    assert expired == ["it expired on 2030-07-11T12:00:00Z"]


def test_issued_certificates_have_the_right_extensions(ca):
    key = generate_key("rsa-2048")
    cert = issue_leaf(server_spec(key_type="rsa-2048"), key, ca[0], ca[1], 397, NOW)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - NOW == 397 * DAY
    assert issued_by(cert, ca[0]) and keys_match(cert, key)


def test_cert_info_has_no_key_material_and_an_openssl_serial(ca):
    cert_text, key_text = issue(ca)
    info = cert_info(load_cert(cert_text, "x"))
    assert set(info) == {"subject", "issuer", "serial", "not_before", "not_after", "key_type", "subject_alt_names"}
    assert "PRIVATE" not in repr(info) and key_text.splitlines()[1] not in repr(info)
    assert len(info["serial"]) % 2 == 0 and info["serial"] == info["serial"].upper()
    assert int(info["serial"], 16) == load_cert(cert_text, "x").serial_number
    assert cert_info(load_cert(cert_text, "x"), show_serial=False)["serial"] is None


def test_serial_hex_pads_to_whole_bytes():
    assert serial_hex(SimpleNamespace(serial_number=0xABC)) == "0ABC"
    assert serial_hex(SimpleNamespace(serial_number=0x1ABC)) == "1ABC"
