"""A blocking ping-pong client: python3 pingpong_client.py PORT COUNT (64-byte messages, one connection)."""
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b"x" * 64
for _ in range(n):
    s.sendall(msg); got = 0
    while got < 64:
        got += len(s.recv(64 - got))
s.close(); print("done", n)
