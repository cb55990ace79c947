"""A real pyml gRPC server on 127.0.0.1 (free port), run on its own event loop thread."""

from __future__ import annotations

import asyncio
import threading

from pyml.serving import ServerOptions, create_server


class RunningServer:
    def __init__(self, models: dict, **options) -> None:
        self.options = ServerOptions(**options)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(models,), daemon=True)
        self._thread.start()
        self._ready.wait(120)
        if self._error is not None:
            raise self._error

    def _run(self, models) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main(models))
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _main(self, models) -> None:
        try:
            self.server = await create_server(models, "127.0.0.1:0", self.options)
            self.port, self.state = self.server.port, self.server.state
        except BaseException as exc:  # surfaced in __init__
            self._error = exc
            self._ready.set()
            return
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await self.server.drain_and_stop(self.options.grace_s)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def batch_sizes(self, model: str):
        return dict(self.state.hosts[model].batcher.batch_sizes)

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def make_certificate(folder):
    """A self-signed certificate for 127.0.0.1 / localhost and its key, written to `folder`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"
