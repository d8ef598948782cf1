"""TLS plumbing: CA_FILE reaches every outbound client, certificates and host names are verified,
DATABASE_SSLMODE reaches libpq. A CA and a server certificate for localhost are made with openssl."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from aiohttp import ClientConnectorCertificateError, ClientSession, TCPConnector, web
from elastic_transport import TlsError

from scheduler.config import load_settings
from scheduler.dependencies.elastic_probe import read_cluster
from scheduler.dependencies.vault_probe import read_vault
from scheduler.messaging.producer import open_broker
from scheduler.store.database import make_engine
from scheduler.tls import broker_ssl, client_ssl_context, database_tls


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """(CA file, server certificate, server key) for localhost / 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed (installed by .ci/run)")
    d = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=scale test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return str(d / "ca.pem"), str(d / "server.pem"), str(d / "server.key")


def server_context(certs) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs[1], certs[2])
    return context


@contextlib.asynccontextmanager
async def tls_site(app: web.Application, host: str, certs):
    """``app`` served over TLS with the test certificate at ``host``; yields the port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=server_context(certs))
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]
    finally:
        await runner.cleanup()


@pytest.fixture
async def https_server(certs):
    """An HTTPS server for localhost answering like Vault's health endpoint."""

    async def health(_request):
        return web.json_response({"initialized": True, "sealed": False, "standby": False})

    app = web.Application()
    app.router.add_get("/v1/sys/health", health)
    app.router.add_get("/", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(certs))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"https://localhost:{port}"
    await runner.cleanup()


@pytest.fixture
async def https_elsewhere(certs):
    """The same certificate (for localhost) served at 127.0.0.2, a name it is not for."""

    async def answer(_request):
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/", answer)
    async with tls_site(app, "127.0.0.2", certs) as port:
        yield f"https://127.0.0.2:{port}"


async def test_https_clients_trust_the_ca_file(certs, https_server):
    with_ca = load_settings({"CA_FILE": certs[0]})
    async with ClientSession(connector=TCPConnector(ssl=client_ssl_context(with_ca))) as http:
        async with http.get(https_server + "/") as resp:
            assert resp.status == 200
    without = load_settings({})  # the system's CAs do not know the test CA
    async with ClientSession(connector=TCPConnector(ssl=client_ssl_context(without))) as http:
        with pytest.raises(ClientConnectorCertificateError):
            await http.get(https_server + "/")


async def test_the_host_name_is_checked(certs, https_elsewhere):
    settings = load_settings({"CA_FILE": certs[0]})
    async with ClientSession(connector=TCPConnector(ssl=client_ssl_context(settings))) as http:
        with pytest.raises(ClientConnectorCertificateError, match="(?i)mismatch|doesn't match"):
            await http.get(https_elsewhere + "/")


async def test_vault_probe_uses_the_ca_file(certs, https_server):
    import asyncio

    code, body, _ = await asyncio.to_thread(read_vault, https_server, None, 5.0, certs[0])
    assert code == 200 and body["sealed"] is False
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        await asyncio.to_thread(read_vault, https_server, None, 5.0, None)


ES_MEDIA_TYPE = "application/vnd.elasticsearch+json;compatible-with=9"


@pytest.fixture
async def https_elasticsearch(certs):
    """An HTTPS server for localhost answering the two reads of the Elasticsearch probe."""

    def answer(body: dict) -> web.Response:
        headers = {"X-Elastic-Product": "Elasticsearch", "Content-Type": ES_MEDIA_TYPE}
        return web.Response(body=json.dumps(body), headers=headers)

    async def info(_request):
        return answer({"cluster_name": "tls", "version": {"number": "9.0.3"}, "tagline": "You Know, for Search"})

    async def health(_request):
        return answer({"cluster_name": "tls", "status": "green"})

    app = web.Application()
    app.router.add_get("/", info)
    app.router.add_get("/_cluster/health", health)
    async with tls_site(app, "127.0.0.1", certs) as port:
        yield f"https://localhost:{port}"


async def test_elasticsearch_probe_uses_the_ca_file(certs, https_elasticsearch):
    info, status = await asyncio.to_thread(read_cluster, https_elasticsearch, 5.0, certs[0])
    assert (info["tagline"], status) == ("You Know, for Search", "green")
    with pytest.raises(TlsError) as refused:
        await asyncio.to_thread(read_cluster, https_elasticsearch, 5.0, None)
    assert "CERTIFICATE_VERIFY_FAILED" in repr(refused.value)


class TlsListener:
    """A TLS server that completes handshakes and records the name the client asked for (SNI)."""

    def __init__(self, certs) -> None:
        self.context = server_context(certs)
        self.names: list[str | None] = []
        self.context.sni_callback = lambda _sock, name, _ctx: self.names.append(name)
        self.handshakes = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(client, server_side=True) as tls:
                    self.handshakes += 1
                    tls.recv(16)  # the AMQP protocol header; then hang up: no broker here
            except (OSError, ssl.SSLError):
                pass

    def close(self) -> None:
        self.sock.close()


def test_amqps_verifies_the_broker_certificate(certs):
    listener = TlsListener(certs)
    try:
        url = f"amqps://guest:guest@localhost:{listener.port}//"
        connection = open_broker(url, connect_timeout_s=3, ca_file=certs[0])
        with pytest.raises(Exception) as caught:
            connection.ensure_connection(max_retries=0)
        connection.release()
        assert "CERTIFICATE_VERIFY_FAILED" not in str(caught.value)
        assert listener.handshakes == 1 and listener.names == ["localhost"]  # TLS done, host name sent

        untrusted = open_broker(url, connect_timeout_s=3)  # the system's CAs only
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.ensure_connection(max_retries=0)
        untrusted.release()
        assert listener.handshakes == 1
    finally:
        listener.close()


def test_broker_ssl_options():
    assert broker_ssl("amqp://h//", "/ca.pem") is False
    assert broker_ssl("memory://", None) is False
    assert broker_ssl("amqps://u:p@rabbit.example:5671//", None) == {
        "cert_reqs": ssl.CERT_REQUIRED,
        "server_hostname": "rabbit.example",
    }
    assert broker_ssl("amqps://h//", "/ca.pem")["ca_certs"] == "/ca.pem"
    assert load_settings({"SCALE_BROKER_URL": "amqps://u:p@h//"}).broker_url == "amqps://u:p@h//"


@pytest.mark.parametrize(
    ("url", "sslmode", "ca_file", "expected"),
    [
        ("sqlite:///x.db", "verify-full", "/ca.pem", {}),
        ("postgresql://u@db/x", None, None, {}),
        ("postgresql://u@db/x", None, "/ca.pem", {"sslmode": "verify-full", "sslrootcert": "/ca.pem"}),
        ("postgresql://u@db/x", "require", None, {"sslmode": "require"}),
        ("postgresql://u@db/x?sslmode=verify-ca", None, "/ca.pem", {"sslmode": "verify-ca", "sslrootcert": "/ca.pem"}),
        ("postgresql://u@db/x?sslrootcert=/mine.pem", "verify-full", "/ca.pem", {"sslmode": "verify-full"}),
    ],
)
def test_database_tls_arguments(url, sslmode, ca_file, expected):
    assert database_tls(url, sslmode, ca_file) == expected


def test_an_unverified_remote_database_is_warned_about_once(caplog):
    database_tls("postgresql://u@db.example/x", None, None)
    database_tls("postgresql://u@db.example/x", None, None)
    database_tls("postgresql://u@127.0.0.1/x", None, None)
    lines = [r.getMessage() for r in caplog.records if "TLS is not verified" in r.getMessage()]
    assert lines == [
        "PostgreSQL at db.example: TLS is not verified (sslmode prefer); set DATABASE_SSLMODE=verify-full and CA_FILE"
    ]


@pytest.mark.integration
def test_sslmode_reaches_libpq(postgres_url):
    """This machine's PostgreSQL has TLS off: sslmode=require must fail, and say so."""
    engine = make_engine(postgres_url, 3, sslmode="require")
    try:
        with pytest.raises(Exception, match="(?i)ssl"), engine.connect():
            pass
    finally:
        engine.dispose()
    engine = make_engine(postgres_url, 3, sslmode="disable")
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


async def test_the_mesos_driver_uses_the_ca_file(certs, https_server):
    """An https:// master is verified against CA_FILE: the driver's options carry that context."""
    from scheduler.daemon import driver_options

    options = driver_options(load_settings({"CA_FILE": certs[0], "MESOS_MASTER_URL": https_server}))
    async with ClientSession(connector=TCPConnector(ssl=options.ssl)) as http:
        async with http.get(https_server + "/") as resp:
            assert resp.status == 200
    without = driver_options(load_settings({"MESOS_MASTER_URL": https_server}))
    async with ClientSession(connector=TCPConnector(ssl=without.ssl)) as http:
        with pytest.raises(ClientConnectorCertificateError):
            await http.get(https_server + "/")


async def test_the_mesos_call_client_verifies_the_master_with_the_ca_file(certs, https_server, https_elsewhere):
    """Calls (on connections of their own, see scheduler.mesos.call_client) check the certificate
    and the host name like the subscription does."""
    from scheduler.daemon import driver_options
    from scheduler.mesos.call_client import CallClient

    options = driver_options(load_settings({"CA_FILE": certs[0], "MESOS_MASTER_URL": https_server}))
    client = CallClient(https_server, ssl=options.ssl)
    try:
        status, _ = await client.post("/", b"{}", {}, 10.0)
        assert status == 405  # an answer over TLS (the test server takes GETs only)
    finally:
        client.close()
    for url, ssl_option in ((https_server, True), (https_elsewhere, options.ssl)):
        client = CallClient(url, ssl=ssl_option)
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await client.post("/", b"{}", {}, 10.0)
        finally:
            client.close()
