#!/usr/bin/env python3
"""QPACK interop vectors between strata and ls-qpack (through pylsqpack,
the QPACK library aioquic uses).

    qpack_vectors.py generate OUT.json   # ls-qpack encodes; strata's tests decode
    qpack_vectors.py check IN.json       # strata encoded; ls-qpack decodes

Both files share one format: a list of cases, each a connection with the
decoder's SETTINGS (max_table_capacity, blocked_streams) and its events in
the order the decoder sees them: {"encoder": hex} (bytes on the encoder
stream) or {"section": {"stream": id, "bytes": hex, "fields": [[name hex,
value hex], ...]}}. A section may come before the encoder bytes it needs
(then it is blocked and decodes once they arrive).

`generate` runs a real ls-qpack encoder against a real ls-qpack decoder
whose decoder stream goes back to the encoder, so the table fills, entries
are acknowledged and evicted, and some sections are delivered ahead of their
inserts. `check` feeds strata's vectors to an ls-qpack decoder and compares
every decoded section with the fields strata encoded.
"""
import json
import random
import sys

import pylsqpack

# (max_table_capacity, blocked_streams, sections, seed)
CASES = [
    (0, 0, 20, 1),
    (220, 0, 30, 2),
    (220, 4, 30, 3),
    (4096, 16, 100, 4),
    (4096, 100, 100, 5),
    (1024, 2, 100, 6),
    (65536, 16, 60, 7),
]

AUTHORITIES = [b"www.example.com", b"api.example.org", b"localhost:8443"]
AGENTS = [b"strata/0.1", b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
          b"curl/8.9.1", b"aioquic/1.2.0"]
TYPES = [b"text/html; charset=utf-8", b"application/json", b"image/png",
         b"application/octet-stream"]


def random_fields(rng):
    if rng.random() < 0.5:
        fields = [
            (b":method", rng.choice([b"GET", b"POST", b"PUT", b"PATCH"])),
            (b":scheme", b"https"),
            (b":authority", rng.choice(AUTHORITIES)),
            (b":path", b"/%s?q=%d" % (rng.choice([b"a", b"bb", b"index.html"]), rng.randrange(50))),
            (b"user-agent", rng.choice(AGENTS)),
            (b"accept", rng.choice([b"*/*", b"text/html", b"application/json"])),
        ]
        if rng.random() < 0.3:
            fields.append((b"authorization", b"Bearer %032x" % rng.getrandbits(128)))
        if rng.random() < 0.3:
            fields.append((b"cookie", b"session=%d" % rng.randrange(1000)))
    else:
        fields = [
            (b":status", rng.choice([b"200", b"204", b"404", b"418", b"500"])),
            (b"content-type", rng.choice(TYPES)),
            (b"content-length", b"%d" % rng.randrange(100000)),
            (b"server", b"strata"),
            (b"date", b"Mon, 07 Dec 2026 04:%02d:%02d GMT" % (rng.randrange(60), rng.randrange(60))),
        ]
        if rng.random() < 0.3:
            fields.append((b"set-cookie", b"id=%d; Path=/; HttpOnly" % rng.randrange(1000)))
    for _ in range(rng.randrange(3)):
        name = b"x-%s" % bytes(rng.choice(b"abcdefgh") for _ in range(rng.randrange(1, 6)))
        value = rng.choice([b"", b"repeat-me", b"%d" % rng.randrange(10),
                            bytes(rng.randrange(32, 127) for _ in range(rng.randrange(40)))])
        fields.append((name, value))
    return fields


def generate(path):
    cases = []
    for cap, blocked, n, seed in CASES:
        rng = random.Random(seed)
        enc = pylsqpack.Encoder()
        dec = pylsqpack.Decoder(cap, blocked)
        events = []
        settings = enc.apply_settings(cap, blocked)
        if settings:
            events.append({"encoder": settings.hex()})
            dec.feed_encoder(settings)
        held = []  # (stream, section bytes, fields) delivered before their inserts
        for i in range(n):
            stream = 4 * i
            fields = random_fields(rng)
            enc_data, section = enc.encode(stream, fields)
            ev = {"section": {"stream": stream, "bytes": section.hex(),
                              "fields": [[k.hex(), v.hex()] for k, v in fields]}}
            # Now and then the section overtakes its encoder-stream bytes.
            if enc_data and blocked > 0 and rng.random() < 0.3:
                events.append(ev)
                try:
                    ctl, got = dec.feed_header(stream, section)
                    raise AssertionError("expected a blocked section")
                except pylsqpack.StreamBlocked:
                    pass
                events.append({"encoder": enc_data.hex()})
                unblocked = dec.feed_encoder(enc_data)
                assert unblocked == [stream], unblocked
                ctl, got = dec.resume_header(stream)
            else:
                if enc_data:
                    events.append({"encoder": enc_data.hex()})
                    assert dec.feed_encoder(enc_data) == []
                events.append(ev)
                ctl, got = dec.feed_header(stream, section)
            assert list(got) == fields, (got, fields)
            enc.feed_decoder(ctl)
        cases.append({"max_table_capacity": cap, "blocked_streams": blocked, "events": events})
    doc = {"generator": "pylsqpack %s (ls-qpack), tests/interop/peers/qpack_vectors.py"
           % pylsqpack.__version__, "cases": cases}
    with open(path, "w") as f:
        json.dump(doc, f, indent=0)
        f.write("\n")
    print("wrote %d cases, %d sections to %s" % (
        len(cases), sum(n for _, _, n, _ in CASES), path))


def check(path):
    with open(path) as f:
        doc = json.load(f)
    sections = 0
    for c, case in enumerate(doc["cases"]):
        dec = pylsqpack.Decoder(case["max_table_capacity"], case["blocked_streams"])
        waiting = {}
        for ev in case["events"]:
            if "encoder" in ev:
                for stream in dec.feed_encoder(bytes.fromhex(ev["encoder"])):
                    _, got = dec.resume_header(stream)
                    want = waiting.pop(stream)
                    assert list(got) == want, ("case %d stream %d" % (c, stream), got, want)
                    sections += 1
            else:
                s = ev["section"]
                want = [(bytes.fromhex(k), bytes.fromhex(v)) for k, v in s["fields"]]
                try:
                    _, got = dec.feed_header(s["stream"], bytes.fromhex(s["bytes"]))
                except pylsqpack.StreamBlocked:
                    waiting[s["stream"]] = want
                    continue
                assert list(got) == want, ("case %d stream %d" % (c, s["stream"]), got, want)
                sections += 1
        assert not waiting, "case %d: streams still blocked: %s" % (c, sorted(waiting))
    print("ls-qpack decoded all %d sections of %d cases in %s" % (sections, len(doc["cases"]), path))
    return sections


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("generate", "check"):
        sys.exit(__doc__)
    (generate if sys.argv[1] == "generate" else check)(sys.argv[2])
