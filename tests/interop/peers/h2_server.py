"""An HTTP/2 server on Python's `h2` (hyper-h2), nobody's code here but the
glue: prior-knowledge h2c, or TLS with ALPN h2 when given a cert and key.

GET /bytes/N answers N bytes of a pattern; anything else echoes the path
and the request body. Respects flow control. Prints "ready PORT".
"""
import socket
import ssl
import sys
import threading

import h2.config
import h2.connection
import h2.events


def pattern(n):
    block = bytes(range(256)) * 256
    out = bytearray()
    while len(out) < n:
        out += block[: n - len(out)]
    return bytes(out)


def serve_conn(sock):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    bodies, pending = {}, {}

    def pump():
        for sid in list(pending):
            data = pending[sid]
            while data:
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if window <= 0:
                    break
                chunk, data = data[:window], data[window:]
                conn.send_data(sid, chunk, end_stream=not data)
            if data:
                pending[sid] = data
            else:
                del pending[sid]
        sock.sendall(conn.data_to_send())

    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                bodies[ev.stream_id] = (dict(ev.headers), bytearray())
            elif isinstance(ev, h2.events.DataReceived):
                bodies[ev.stream_id][1].extend(ev.data)
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                headers, body = bodies.pop(ev.stream_id)
                path = headers.get(b":path", b"/").decode()
                if path.startswith("/bytes/"):
                    payload = pattern(int(path[len("/bytes/"):]))
                else:
                    payload = path.encode() + b"\n" + bytes(body)
                conn.send_headers(ev.stream_id, [(":status", "200"),
                                                 ("content-length", str(len(payload))),
                                                 ("server", "python-h2")])
                pending[ev.stream_id] = payload
            elif isinstance(ev, h2.events.ConnectionTerminated):
                sock.sendall(conn.data_to_send())
                return
        pump()


def main():
    cert = key = None
    if len(sys.argv) == 3:
        cert, key = sys.argv[1], sys.argv[2]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["h2"])
    print("ready", ls.getsockname()[1], flush=True)
    while True:
        s, _ = ls.accept()
        if ctx:
            try:
                s = ctx.wrap_socket(s, server_side=True)
            except ssl.SSLError:
                s.close()
                continue
        threading.Thread(target=lambda s=s: (serve_conn(s), s.close()), daemon=True).start()


if __name__ == "__main__":
    main()
