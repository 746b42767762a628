//! Round trips at table capacities 0, small and large; sensitive fields; Required Insert Count wrap-around (§4.5.1.1).

use super::*;

#[test]
fn round_trip_with_capacity_zero_uses_static_and_literals_only() {
    let (mut p, mut es) = Pair::new(0, 0, 0);
    assert!(es.is_empty(), "no capacity instruction for a zero table");
    for i in 0..3 {
        let s = p.round_trip(&mut es, 4 * i, &request("/a"));
        assert_eq!(&s[..2], [0, 0]);
    }
    assert_eq!(p.enc.insert_count(), 0);
    // Our capacity 0 against a peer that allows a table: still none.
    let (mut p, mut es) = Pair::new(0, 4096, 16);
    p.round_trip(&mut es, 0, &request("/"));
    assert_eq!(p.enc.insert_count(), 0);
    // A peer that allows none against our 4096: none.
    let (mut p, mut es) = Pair::new(4096, 0, 16);
    p.round_trip(&mut es, 0, &request("/"));
    assert_eq!((p.enc.capacity(), p.enc.insert_count()), (0, 0));
}

#[test]
fn round_trip_with_a_table_shrinks_repeated_sections() {
    for cap in [220, 4096, 64 * 1024] {
        let (mut p, mut es) = Pair::new(cap, cap, 16);
        // Bytes on the request stream and the encoder stream together.
        let mut sent = |p: &mut Pair, id: u64, path: &str| {
            let mut section = Vec::new();
            p.enc
                .encode(id, &request(path), &mut section, &mut es)
                .unwrap();
            let n = section.len() + es.len();
            p.dec.on_encoder_stream(&es).unwrap();
            es.clear();
            let mut ds = Vec::new();
            assert_eq!(
                p.dec.decode(id, &section, &mut ds),
                Ok(Decoded::Fields(request(path)))
            );
            p.enc.on_decoder_stream(&ds).unwrap();
            n
        };
        let first = sent(&mut p, 0, "/first");
        let second = sent(&mut p, 4, "/second");
        let third = sent(&mut p, 8, "/third");
        let shrunk = if cap >= 4096 { first / 2 } else { first };
        assert!(
            second < shrunk && third <= second + 1,
            "cap {cap}: {first}, {second}, then {third} bytes"
        );
        assert_eq!(p.enc.unacked_sections(), 0);
    }
}

#[test]
fn sensitive_fields_are_never_inserted_and_carry_the_n_bit() {
    let (mut p, mut es) = Pair::new(4096, 4096, 16);
    let f = fields(&[("authorization", "secret"), ("cookie", "id=1")]);
    let s = p.round_trip(&mut es, 0, &f);
    assert_eq!(p.enc.insert_count(), 0);
    // authorization has a static name (84): 0111 xxxx with N set.
    assert_eq!(s[2], 0x70 | 0x0f);
    // A long cookie is worth inserting.
    let f = fields(&[("cookie", "session=0123456789abcdef0123")]);
    p.round_trip(&mut es, 4, &f);
    assert_eq!(p.enc.insert_count(), 1);
}

#[test]
fn required_insert_count_wraps_around() {
    // Capacity 100: MaxEntries 3, the encoded count runs 1..=6.
    let (mut p, mut es) = Pair::new(100, 100, 4);
    for i in 0..60u64 {
        let f = [HeaderField::new("x-n", format!("{i:08}"))];
        let s = p.round_trip(&mut es, 4 * i, &f);
        assert!((1..=6).contains(&s[0]), "section {i}: encoded RIC {}", s[0]);
    }
    assert!(p.enc.insert_count() >= 50, "{}", p.enc.insert_count());
}

#[test]
fn required_insert_count_decoding_follows_4_5_1_1() {
    let mut dec = QpackDecoder::new(100, 4, 1024); // MaxEntries 3, FullRange 6
    let d = &mut dec.inner;
    assert_eq!(d.required_insert_count(0), Ok(0));
    // Insert Count 0: encoded 1..=3 stand for 0+1-1.. : 1 -> ... only 1..=3 are valid.
    assert_eq!(d.required_insert_count(2), Ok(1));
    assert_eq!(d.required_insert_count(4), Ok(3));
    assert!(d.required_insert_count(5).is_err());
    assert!(d.required_insert_count(7).is_err());
    // After 10 inserts (MaxValue 13, MaxWrapped 12): encoded 1 is 12, encoded 6 is 11.
    let mut es = hex("3f45"); // capacity 100
    for i in 0..10 {
        es.push(0x43);
        es.extend_from_slice(format!("x-{i}").as_bytes());
        es.push(0);
    }
    dec.on_encoder_stream(&es).unwrap();
    let d = &mut dec.inner;
    assert_eq!(d.insert_count(), 10);
    assert_eq!(d.required_insert_count(1), Ok(12));
    assert_eq!(d.required_insert_count(2), Ok(13));
    assert_eq!(d.required_insert_count(6), Ok(11));
    assert_eq!(d.required_insert_count(5), Ok(10));
    assert_eq!(d.required_insert_count(3), Ok(8)); // 14 > 13: wraps back
}

/// Not a check: prints the time per section of encoding and decoding a
/// typical request (run in release with `--ignored --nocapture`).
#[test]
#[ignore]
fn speed_of_a_typical_request() {
    for cap in [0, 4096] {
        let (mut p, mut es) = Pair::new(cap, cap, 16);
        let req = request("/index.html");
        let n = 200_000u64;
        let (mut section, mut ds) = (Vec::new(), Vec::new());
        let (mut t_enc, mut t_dec) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        for i in 0..n {
            section.clear();
            let t0 = std::time::Instant::now();
            p.enc.encode(4 * i, &req, &mut section, &mut es).unwrap();
            let t1 = std::time::Instant::now();
            p.dec.on_encoder_stream(&es).unwrap();
            es.clear();
            let got = p.dec.decode(4 * i, &section, &mut ds).unwrap();
            let t2 = std::time::Instant::now();
            assert!(matches!(got, Decoded::Fields(_)));
            p.enc.on_decoder_stream(&ds).unwrap();
            ds.clear();
            t_enc += t1 - t0;
            t_dec += t2 - t1;
        }
        println!(
            "capacity {cap}: {} B/section, encode {} ns, decode {} ns",
            section.len(),
            t_enc.as_nanos() / u128::from(n),
            t_dec.as_nanos() / u128::from(n)
        );
    }
}
