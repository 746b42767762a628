"""The chat app: broadcast through wake handles; a client that never reads
misses messages, is told so, and is cut off after a stall, while the others go
on and the server's memory stays bounded."""
import socket
import threading
import time


def reader(sock, sink, stop):
    sock.settimeout(0.5)
    while not stop.is_set():
        try:
            d = sock.recv(1 << 16)
        except socket.timeout:
            continue
        except OSError:
            return
        if not d:
            return
        sink.extend(d)


def test_stuck_client_does_not_slow_or_bloat_the_room(serve):
    s = serve("tcp://127.0.0.1:0", "--app", "chat", "--chat-stall", "3")
    stuck = socket.create_connection(s.addr(), timeout=10)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a = socket.create_connection(s.addr(), timeout=10)
    b = socket.create_connection(s.addr(), timeout=10)
    time.sleep(0.3)
    rss0 = s.rss_kib()
    got_b, stop = bytearray(), threading.Event()
    t = threading.Thread(target=reader, args=(b, got_b, stop))
    t.start()
    # a drains what it is sent too, so only `stuck` never reads.
    got_a = bytearray()
    ta = threading.Thread(target=reader, args=(a, got_a, stop))
    ta.start()
    line = b"m" * 1000 + b"\n"
    batch, n = 40, 20000  # 20 MB that the stuck client would have to buffer
    deadline = time.time() + 120
    for i in range(0, n, batch):
        a.sendall(line * batch)
        # b keeps up with a paced sender: it is never the slow one.
        while got_b.count(b"m" * 1000) < i + batch and time.time() < deadline:
            time.sleep(0.001)
    stop.set()
    t.join()
    ta.join()
    assert got_b.count(b"m" * 1000) == n, "b missed messages while stuck was stuck"
    rss1 = s.rss_kib()
    assert rss1 - rss0 < 16 * 1024, f"server grew by {rss1 - rss0} KiB"
    # After the stall timeout the stuck client is disconnected.
    time.sleep(4)
    stuck.settimeout(10)
    total = b""
    try:
        while True:
            d = stuck.recv(1 << 16)
            if not d:
                break
            total += d
    except (ConnectionResetError, socket.timeout):
        pass
    assert len(total) < 2 * 1024 * 1024, "the stuck client's backlog was bounded"
    for c in (a, b, stuck):
        c.close()


def test_a_reader_that_catches_up_is_told_what_it_missed(serve):
    s = serve("tcp://127.0.0.1:0", "--app", "chat", "--chat-stall", "30")
    slow = socket.create_connection(s.addr(), timeout=10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a = socket.create_connection(s.addr(), timeout=10)
    time.sleep(0.3)
    line = b"z" * 1000 + b"\n"
    for _ in range(5000):
        a.sendall(line)
    time.sleep(0.5)
    slow.settimeout(5)
    buf = b""
    deadline = time.time() + 20
    while b"missed" not in buf and time.time() < deadline:
        try:
            d = slow.recv(1 << 16)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    assert b"missed" in buf
    slow.close()
    a.close()
