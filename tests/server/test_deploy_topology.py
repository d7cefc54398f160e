"""The production topology on this machine, without Docker: Debian's nginx with the repo's
packaging/server/nginx.conf (TLS, least_conn, unbuffered stream) in front of two
``smart-support-server serve`` processes on one PostgreSQL; two laptops sync through it."""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.operations import cases as ops
from app.store import queries as q
from app.store.repo import Store
from app.sync.api import SyncApi
from app.sync.engine import sync_once
from app.sync.live import LiveStream, session_token
from app.sync.session import SyncSession
from sync_server.db import make_engine
from sync_server.services import accounts

from .conftest import PgCluster, new_pg_database
from .helpers import PASSWORD
from .server_process import ROOT, SECRET, free_port

TEMPLATE = ROOT / "packaging" / "server" / "nginx.conf"
WAIT = 20.0


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.fail("nginx is not installed: `./dev test` installs Debian's nginx "
                    "(apt-get install nginx)", pytrace=False)
    return found


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``${SSS_*}`` as envsubst would; a placeholder left unfilled is an error."""
    text = re.sub(r"\$\{(SSS_[A-Z0-9_]+)\}", lambda m: values[m.group(1)], template)
    assert "${SSS_" not in text
    return text


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path,
               verify: bool | str = True) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=1, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


@contextmanager
def _process(argv: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _seed(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        accounts.add_team(engine, name="Support", prefix="SUP")
        for email in ("ana@example.com", "ben@example.com"):
            accounts.add_user(engine, email=email, name=email[:3].title(), role="agent",
                              password=PASSWORD)
            accounts.add_member(engine, team="Support", email=email)
    finally:
        engine.dispose()


class Laptop:
    def __init__(self, folder: Path, base: str, email: str, ca: str) -> None:
        self.store = Store(folder / "smart-support.db")
        self.session = SyncSession(self.store, SyncApi(base, verify=ca))
        self.session.login(email, PASSWORD)
        self.hints = 0
        self.hinted = threading.Event()
        self.connected = threading.Event()
        self.live = LiveStream(base, session_token(self.session), self._hint,
                               on_state=self._state, base_delay=0.2, max_delay=1.0, verify=ca)

    def _hint(self, _seq: int) -> None:
        self.hints += 1
        self.hinted.set()

    def _state(self, state: str) -> None:
        if state == "connected":
            self.connected.set()
        else:
            self.connected.clear()

    def close(self) -> None:
        self.live.stop()
        self.store.close()


def _stream_upstreams(access_log: Path) -> list[str]:
    """The process that served each ended stream (the last one nginx tried)."""
    found = re.findall(r'"GET /api/v1/stream [^"]*" \d+ upstream="([^"]*)"', access_log.read_text())
    return [tried.split(", ")[-1] for tried in found]


def _edit_seen_live(writer: Laptop, reader: Laptop, subject: str) -> None:
    reader.hinted.clear()
    case_id, _, _ = ops.create_case(writer.store, subject=subject)
    assert sync_once(writer.store, writer.session).pushed >= 1
    assert reader.hinted.wait(WAIT), f"no live hint for {subject!r}"
    sync_once(reader.store, reader.session)
    detail = reader.store.read(lambda c: q.case_detail(c, case_id))
    assert detail is not None and detail["subject"] == subject


def test_two_processes_behind_nginx_share_one_postgresql(tmp_path: Path,
                                                         pg_cluster: PgCluster) -> None:
    nginx = _nginx()
    url = new_pg_database(pg_cluster)
    _seed(url)
    ports = [free_port(), free_port()]
    env = dict(os.environ, PYTHONPATH=str(ROOT), SMART_SUPPORT_SERVER_SECRET=SECRET,
               SMART_SUPPORT_SERVER_KEEPALIVE_SECONDS="2")
    env.pop("SMART_SUPPORT_SERVER_ENV", None)
    prefix = tmp_path / "nginx"
    for sub in ("", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(tmp_path, 0o755)  # nginx's workers (the user below) read the cert, write temp
    cert, key = _certificate(prefix)
    user = getpass.getuser()
    listen = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render(TEMPLATE.read_text(), {
        "SSS_USER": user, "SSS_PREFIX": str(prefix), "SSS_LISTEN": f"127.0.0.1:{listen}",
        "SSS_SERVER_1": f"127.0.0.1:{ports[0]}", "SSS_SERVER_2": f"127.0.0.1:{ports[1]}",
        "SSS_TLS_CERT": str(cert), "SSS_TLS_KEY": str(key)}))
    base, ca = f"https://127.0.0.1:{listen}", str(cert)  # the app's verify= takes a CA file
    serve = [sys.executable, "-m", "sync_server", "--db", url, "serve", "--no-workers",
             "--blob-store", "db", "--trusted-proxy", "127.0.0.1"]
    with (_process([*serve, "--port", str(ports[0])], tmp_path / "s1.log", env) as s1,
          _process([*serve, "--port", str(ports[1])], tmp_path / "s2.log", env) as s2,
          _process([nginx, "-p", str(prefix), "-c", str(conf)], prefix / "stdout.log", env) as web):
        _wait_http(f"http://127.0.0.1:{ports[0]}/healthz", s1, tmp_path / "s1.log")
        _wait_http(f"http://127.0.0.1:{ports[1]}/healthz", s2, tmp_path / "s2.log")
        _wait_http(f"{base}/readyz", web, prefix / "error.log", verify=ca)
        ana = Laptop(tmp_path / "ana", base, "ana@example.com", ca)
        ben = Laptop(tmp_path / "ben", base, "ben@example.com", ca)
        try:
            ana.live.start()
            assert ana.connected.wait(WAIT)
            ben.live.start()
            assert ben.connected.wait(WAIT)
            _edit_seen_live(ana, ben, "Printer on fire")
            _edit_seen_live(ben, ana, "Scanner on fire")

            s1.kill()  # one process dies; nginx sends everyone to the other
            s1.wait(10)
            time.sleep(1.0)  # the stream that went through s1 notices and reconnects
            assert ana.connected.wait(WAIT) and ben.connected.wait(WAIT)
            _edit_seen_live(ana, ben, "Fax on fire")
            _edit_seen_live(ben, ana, "Toaster on fire")
        finally:
            ana.close()
            ben.close()
        time.sleep(0.5)  # nginx logs a stream when it ends
        upstreams = _stream_upstreams(prefix / "access.log")
        # The first stream to end was the one s1 held when it died; the others were s2's
        # (least_conn gave the laptops one process each).
        assert upstreams[0] == f"127.0.0.1:{ports[0]}", upstreams
        assert set(upstreams[1:]) == {f"127.0.0.1:{ports[1]}"}, upstreams
        assert web.poll() is None, (prefix / "error.log").read_text()
