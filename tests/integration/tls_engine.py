"""The local Docker engine behind a TLS endpoint on 127.0.0.1 that asks for client certificates, as
`dockerd --tlsverify -H tcp://...` does: a CA of the test, a server certificate that names only
ENGINE_NAME (not 127.0.0.1, so the name check is what tls_hostname changes), a client certificate,
and a thread per connection that terminates TLS and relays it to the engine's unix socket.

    with TlsEngine(tmp_path) as engine:
        engine.url, engine.files  ->  tcp://127.0.0.1:<port>, {ca_path, client_cert, client_key}
"""

from __future__ import annotations

import datetime
import select
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ENGINE_NAME = "pgdock-engine.test"
ENGINE_SOCKET = "/var/run/docker.sock"


def _key_and_cert(common_name: str, issuer=None, issuer_key=None, ca: bool = False, server: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(ENGINE_NAME)]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _write(path: Path, key, cert) -> None:
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (path.parent / f"{path.name}-key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


class TlsEngine:
    """A TLS endpoint for the local engine (see the module docstring); a context manager."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        ca_key, ca_cert = _key_and_cert("pgdock test engine CA", ca=True)
        server_key, server_cert = _key_and_cert(ENGINE_NAME, ca_cert, ca_key, server=True)
        client_key, client_cert = _key_and_cert("pgdock-client", ca_cert, ca_key)
        _write(root / "ca", None, ca_cert)
        _write(root / "server", server_key, server_cert)
        _write(root / "cert", client_key, client_cert)
        (root / "key.pem").write_bytes((root / "cert-key.pem").read_bytes())
        self.root = root
        self.files = dict(ca_path=str(root / "ca.pem"), client_cert=str(root / "cert.pem"),
                          client_key=str(root / "key.pem"))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(root / "ca.pem"))
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_cert_chain(str(root / "server.pem"), str(root / "server-key.pem"))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.5)
        self.url = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.refused = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stopped.set()
        self._thread.join(timeout=5)
        self.listener.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                raw, _addr = self.listener.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._relay, args=(raw,), daemon=True).start()

    def _relay(self, raw: socket.socket) -> None:
        """One connection, both directions in this one thread: an SSL socket must not be read in one
        thread while another writes it (OpenSSL does not allow it; such a relay drops connections now
        and then, which a client sees as "Remote end closed connection without response")."""
        raw.settimeout(120)
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.refused += 1
            raw.close()
            return
        engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        engine.connect(ENGINE_SOCKET)
        peer = {client: engine, engine: client}
        try:
            while not self._stopped.is_set():
                readable, _w, _x = select.select([client, engine], [], [], 0.5)
                for source in readable:
                    # what the SSL layer already decrypted is not seen by select: read it all
                    while True:
                        data = source.recv(65536)
                        if not data:
                            return
                        peer[source].sendall(data)
                        if source is not client or not client.pending():
                            break
        except OSError:
            pass
        finally:  # shutdown, not only close: the other end sees the FIN at once
            for end in (client, engine):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()
