"""A throw-away PKI for TLS tests, made with the openssl CLI: a CA, a broker certificate for
localhost and 127.0.0.1, and client certificates. Any test file can use it:

    from certs import make_pki

    pki = make_pki(tmp_path / "pki")
    start_broker({"listeners": f"PLAINTEXT://127.0.0.1:{p1},SSL://127.0.0.1:{p2}",
                  **pki.broker_keys()})
    Producer({"bootstrap.servers": ..., **pki.librdkafka()})
    alice = pki.client("alice")          # alice.cert, alice.key, alice.pem (key + cert), alice.dn

Certificates are X.509 v3 with the extensions a strict verifier (rustls/webpki, Java) wants:
the CA has basicConstraints CA:TRUE, the broker's has subjectAltName DNS:localhost and
IP:127.0.0.1 with extendedKeyUsage serverAuth, a client's has clientAuth. Keys are P-256 EC,
written as PKCS#8 (what Kafka's PEM keystores need). Nothing here reads the system openssl.cnf.
"""
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_REQ_CNF = "[req]\ndistinguished_name = dn\n[dn]\n"


def _openssl(*args, cwd):
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl CLI is needed to make test certificates (apt-get install openssl)")
    r = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def _subject(cn, ou=None, o="fjord", c="NO"):
    """(openssl -subj, Java's RFC 2253 name): openssl lists the attributes outermost first,
    Java prints the most specific one first."""
    parts = [("C", c), ("O", o), ("OU", ou), ("CN", cn)]
    parts = [(k, v) for k, v in parts if v]
    return "".join(f"/{k}={v}" for k, v in parts), ",".join(f"{k}={v}" for k, v in reversed(parts))


@dataclass
class Identity:
    """A key and the certificate the CA issued for it (paths), and the certificate's subject
    as Java (and so Kafka) writes it."""
    key: Path
    cert: Path
    pem: Path  # key, certificate and the CA certificate in one file: a PEM keystore
    dn: str


class Pki:
    def __init__(self, directory, ca_name="fjord test CA"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "req.cnf").write_text(_REQ_CNF)
        self.ca_key = self.dir / "ca.key"
        self.ca = self.dir / "ca.pem"
        self._key(self.ca_key)
        self._ext("ca.ext", "basicConstraints = critical, CA:TRUE\n"
                            "keyUsage = critical, keyCertSign, cRLSign\n"
                            "subjectKeyIdentifier = hash\n")
        _openssl("req", "-new", "-config", "req.cnf", "-key", self.ca_key, "-subj", f"/O=fjord/CN={ca_name}",
                 "-out", "ca.csr", cwd=self.dir)
        _openssl("x509", "-req", "-in", "ca.csr", "-signkey", self.ca_key, "-days", "3650",
                 "-set_serial", self._serial(), "-extfile", "ca.ext", "-out", self.ca, cwd=self.dir)
        self.broker = self.issue("broker", "localhost", server=True)

    def _key(self, path):
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path,
                 cwd=self.dir)

    def _ext(self, name, text):
        (self.dir / name).write_text(text)

    @staticmethod
    def _serial():
        return "0x" + secrets.token_hex(8)

    def issue(self, name, cn, ou=None, o="fjord", c="NO", server=False, v1=False):
        """A key and a certificate signed by this CA, for a server (localhost, 127.0.0.1) or a
        client. v1: an X.509 v1 certificate, without extensions (what `openssl x509 -req`
        makes without -extfile)."""
        subj, dn = _subject(cn, ou, o, c)
        key, cert, pem = (self.dir / f"{name}.key", self.dir / f"{name}.crt", self.dir / f"{name}.pem")
        self._key(key)
        ext = ("basicConstraints = CA:FALSE\n"
               "keyUsage = critical, digitalSignature\n"
               "authorityKeyIdentifier = keyid\n")
        ext += ("extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n" if server
                else "extendedKeyUsage = clientAuth\n")
        self._ext(f"{name}.ext", ext)
        _openssl("req", "-new", "-config", "req.cnf", "-key", key, "-subj", subj, "-out", f"{name}.csr",
                 cwd=self.dir)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", self.ca, "-CAkey", self.ca_key,
                 "-set_serial", self._serial(), "-days", "3650", *(() if v1 else ("-extfile", f"{name}.ext")),
                 "-out", cert, cwd=self.dir)
        pem.write_text(key.read_text() + cert.read_text() + self.ca.read_text())
        return Identity(key=key, cert=cert, pem=pem, dn=dn)

    def client(self, cn, ou=None, o="fjord", c="NO", v1=False):
        """A client certificate with subject C=<c>,O=<o>[,OU=<ou>],CN=<cn>."""
        return self.issue(f"client-{cn}", cn, ou, o, c, v1=v1)

    def encrypted_key(self, identity, password):
        """identity's key as an encrypted PKCS#8 PEM (what ssl.key.password unlocks)."""
        out = self.dir / f"{identity.key.stem}.enc.key"
        _openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", identity.key, "-out", out,
                 "-passout", f"pass:{password}", cwd=self.dir)
        return out

    def pkcs12(self, identity, password):
        """identity's key and chain as a PKCS12 keystore."""
        out = self.dir / f"{identity.key.stem}.p12"
        _openssl("pkcs12", "-export", "-inkey", identity.key, "-in", identity.cert, "-certfile", self.ca,
                 "-name", identity.key.stem, "-out", out, "-passout", f"pass:{password}", cwd=self.dir)
        return out

    # --- settings ----------------------------------------------------------------------------

    def broker_keys(self, listener=None, client_auth=None):
        """fjord's (Kafka's) broker keys for a TLS listener with the broker certificate, a PEM
        keystore file; with client_auth, the CA as truststore too. listener: prefix the keys
        with listener.name.<listener>. as a per-listener override."""
        keys = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(self.broker.pem)}
        if client_auth:
            keys.update({"ssl.client.auth": client_auth, "ssl.truststore.type": "PEM",
                         "ssl.truststore.location": str(self.ca)})
        if listener:
            keys = {f"listener.name.{listener.lower()}.{k}": v for k, v in keys.items()}
        return keys

    def librdkafka(self, identity=None):
        """confluent-kafka / kcat settings for an SSL connection (with identity's certificate)."""
        conf = {"security.protocol": "SSL", "ssl.ca.location": str(self.ca)}
        if identity:
            conf.update({"ssl.certificate.location": str(identity.cert), "ssl.key.location": str(identity.key)})
        return conf

    def kafka_python(self, identity=None):
        """kafka-python settings for an SSL connection (with identity's certificate)."""
        conf = {"security_protocol": "SSL", "ssl_cafile": str(self.ca)}
        if identity:
            conf.update({"ssl_certfile": str(identity.cert), "ssl_keyfile": str(identity.key)})
        return conf

    def java(self, identity=None):
        """Java kafka-clients settings (PEM truststore and keystore, no keytool needed)."""
        conf = {"security.protocol": "SSL", "ssl.truststore.type": "PEM",
                "ssl.truststore.location": str(self.ca)}
        if identity:
            conf.update({"ssl.keystore.type": "PEM", "ssl.keystore.location": str(identity.pem)})
        return conf


def make_pki(directory, ca_name="fjord test CA"):
    """A fresh CA and broker certificate under directory (see Pki)."""
    return Pki(directory, ca_name)
