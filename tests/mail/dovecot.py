"""A throwaway Dovecot IMAP server (Debian's dovecot-imapd) for the mailbox tests: a free
high port on loopback, one passwd-file user, maildir in a temporary folder, no TLS (the
mailbox URL says ``?tls=none``). Its login processes refuse root, so they run as Dovecot's
own users and the mail user is ``nobody`` (first_valid_uid admits it)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "support@example.test", "imap-secret-Pa55"


def available() -> bool:
    return Path(DOVECOT).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    uid: int
    gid: int
    tls_port: int = 0

    @property
    def maildir(self) -> Path:
        return self.root / "mail" / "support"

    def url(self, folder: str = "") -> str:
        tail = f"/{folder}" if folder else ""
        return f"imap://{USER.replace('@', '%40')}@127.0.0.1:{self.port}{tail}?tls=none"

    def deliver(self, raw: bytes, name: str | None = None) -> Path:
        """Put one message into INBOX/new as a maildir file (what an MDA does)."""
        new = self.maildir / "new"
        stamp = f"{time.time_ns()}.M{os.getpid()}P{name or id(raw)}.test"
        tmp = self.maildir / "tmp" / stamp
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        target = new / stamp
        tmp.rename(target)
        return target

    def clear(self) -> None:
        """Empty the mailbox and forget its UIDs (Dovecot's uidlist and indexes): the next
        message is UID 1 again, under a new UIDVALIDITY."""
        for sub in ("new", "cur"):
            for path in (self.maildir / sub).iterdir():
                path.unlink()
        for path in self.maildir.glob("dovecot*"):
            path.unlink()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)


def _self_signed(root: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost (trust it with SSL_CERT_FILE)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def start(*, tls: bool = False) -> Dovecot:
    """A running server in a fresh folder of its own under the system temp folder (its auth
    process runs as ``dovecot`` and must traverse every parent: pytest's are mode 0700).
    ``tls``: STARTTLS on its port and implicit TLS on ``tls_port``, with a self-signed
    certificate (``root / "cert.pem"``)."""
    root = Path(tempfile.mkdtemp(prefix="smart-support-dovecot-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("nobody")
    else:  # not root: the mail user is whoever runs the tests
        user = pwd.getpwuid(os.geteuid())
    uid, gid = user.pw_uid, user.pw_gid
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    for sub in ("new", "cur", "tmp"):
        (root / "mail" / "support" / sub).mkdir(parents=True, exist_ok=True)
    for path in [root / "mail", *(root / "mail").rglob("*")]:
        os.chown(path, uid, gid) if os.geteuid() == 0 else None
    (root / "run").mkdir(exist_ok=True)
    port = _free_port()
    (root / "passwd").write_text(
        f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{root / 'mail' / 'support'}::\n")
    tls_port = _free_port() if tls else 0
    if tls:
        cert, key = _self_signed(root)
        dh = Path("/usr/share/dovecot/dh.pem")
        ssl_lines = (f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n"
                     + (f"ssl_dh = <{dh}\n" if dh.exists() else ""))
    else:
        ssl_lines = "ssl = no\n"
    internal = "dovecot" if os.geteuid() == 0 else user.pw_name
    login = "dovenull" if os.geteuid() == 0 else user.pw_name
    (root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root / 'run'}
state_dir = {root / 'state'}
instance_name = smart-support-test-{port}
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 100) if uid else 1}
{ssl_lines}disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root / 'dovecot.log'}
mail_location = maildir:~
passdb {{
  driver = passwd-file
  args = {root / 'passwd'}
}}
userdb {{
  driver = passwd-file
  args = {root / 'passwd'}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""")
    (root / "state").mkdir(exist_ok=True)
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode(errors="replace") if process.stdout else ""
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited {process.returncode}: {out}\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return Dovecot(root, port, process, uid, gid, tls_port)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("dovecot did not answer on its port within 20 s")
