#!/usr/bin/env python3
"""A minimal IMAP server over implicit TLS that answers `FETCH` with a 20 MiB literal sent in
one piece: a server that is never the bottleneck, so the download case can show how fast the
clients themselves take data. Usage: fast_server.py CERT KEY; prints its port, then serves
(one thread per connection) until killed. Listens on 127.0.0.1 only."""

import socket
import ssl
import sys
import threading

MIB20 = 20 * 1024 * 1024


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    line = (b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" * 40)[:2044] + b"\r\n"
    body = line * (MIB20 // len(line))
    body += b"x" * (MIB20 - len(body) - 2) + b"\r\n"
    fetch = b"* 1 FETCH (BODY[] {%d}\r\n" % len(body) + body + b")\r\n"
    print(listener.getsockname()[1], flush=True)

    def serve(conn):
        tls = conn
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
            pending = b""
            tls.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fast server ready\r\n")
            while True:
                while b"\n" not in pending:
                    data = tls.recv(65536)
                    if not data:
                        return
                    pending += data
                command, pending = pending.split(b"\n", 1)
                words = command.split()
                if not words:
                    continue
                tag, verb = words[0], (words[1].upper() if len(words) > 1 else b"")
                if verb == b"FETCH":
                    tls.sendall(fetch + tag + b" OK FETCH done\r\n")
                elif verb == b"LOGOUT":
                    tls.sendall(b"* BYE\r\n" + tag + b" OK LOGOUT done\r\n")
                    return
                else:
                    tls.sendall(tag + b" OK done\r\n")
        except (OSError, ssl.SSLError):
            pass
        finally:
            tls.close()

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
