"""The test server picks the 2030.5 suite by its own preference (the client-role COMM-003 rests on it)."""

from __future__ import annotations

import socket
import ssl
import threading

from harness.pki import TestPki
from harness.sep.tls import MANDATORY_CIPHER, server_context


def test_a_client_preferring_gcm_still_gets_ccm8(pki: TestPki) -> None:
    """A conforming client offers TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 but may list another suite first: the
    server's order (0xC0AE first) decides, so COMM-003 fails only a client that does not offer 0xC0AE."""
    server = server_context(pki.server.cert, pki.server.key, pki.ca)
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    chosen: list[str | None] = []

    def serve() -> None:
        conn, _ = listening.accept()
        with server.wrap_socket(conn, server_side=True) as tls:
            chosen.append(tls.cipher()[0] if tls.cipher() else None)
            tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:" + MANDATORY_CIPHER)
    device = pki.clients["client"]
    client.load_cert_chain(device.cert, device.key)
    with socket.create_connection(("127.0.0.1", port)) as raw, client.wrap_socket(raw) as tls:
        negotiated = tls.cipher()[0]
        tls.send(b"x")
    thread.join(10)
    listening.close()
    assert negotiated == MANDATORY_CIPHER
    assert chosen == [MANDATORY_CIPHER]
