//! Unit tests of the unpickler: safety (no code, no blow-ups) and the data it builds.

use super::*;
use std::time::{Duration, Instant};

#[test]
fn refuses_os_system() {
    // pickle.dumps of a class that calls os.system on load
    let data = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.";
    match unpickle(data) {
        Err(Error::DisallowedClass { module, name }) => {
            assert_eq!((module.as_str(), name.as_str()), ("posix", "system"))
        }
        other => panic!("expected DisallowedClass, got {other:?}"),
    }
}

#[test]
fn reads_nested_containers_and_memo() {
    // {'a': [1, 2.5, 'x'], 'b': <same list>}
    let data = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x01\x00\x00\x00bq\x04h\x02u.";
    let v = unpickle(data).unwrap();
    let expected = Value::List(vec![
        Value::Int(1),
        Value::Float(2.5),
        Value::Str("x".into()),
    ]);
    assert_eq!(v.get("a"), Some(&expected));
    assert_eq!(v.get("b"), Some(&expected));
}

#[test]
fn deep_nesting_and_copy_bombs_are_refused_quickly() {
    // x = []; repeat: x = [x] via memo (PUT 0 / GET 0): nesting grows without stack growth.
    let mut deep = b"\x80\x02]q\x00".to_vec();
    for _ in 0..100_000 {
        deep.extend(b"]h\x00aq\x00");
    }
    deep.push(b'.');
    let t = std::time::Instant::now();
    assert!(matches!(unpickle(&deep), Err(Error::Pickle { .. })));
    // A 1000-element list re-read from the memo many times.
    let mut wide = b"\x80\x02](".to_vec();
    for _ in 0..1000 {
        wide.extend(b"K\x01");
    }
    wide.extend(b"eq\x00](");
    for _ in 0..200_000 {
        wide.extend(b"h\x00");
    }
    wide.extend(b"e.");
    assert!(matches!(unpickle(&wide), Err(Error::Pickle { .. })));
    // Nesting on the stack alone is bounded by the stack limit.
    let mut stacked = b"\x80\x02".to_vec();
    stacked.extend(std::iter::repeat_n(b']', 30_000));
    stacked.push(b'.');
    assert!(matches!(unpickle(&stacked), Err(Error::Pickle { .. })));
    assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
}

#[test]
fn truncated_input_is_an_error() {
    let data = b"\x80\x02}q\x00(X\x01\x00\x00";
    assert!(matches!(unpickle(data), Err(Error::Pickle { .. })));
}

/// `{k0: 0, k1: 1, …}` built with one SETITEM per key (11 bytes an item); `memo` stores the
/// dict first, as protocol 0 does.
fn setitem_dict(n: usize, memo: bool) -> Vec<u8> {
    let mut p = b"\x80\x02}".to_vec();
    if memo {
        p.extend(b"q\x00");
    }
    for i in 0..n {
        p.push(0x8c);
        p.push(6);
        p.extend(format!("{:06}", i % 1_000_000).as_bytes());
        p.extend(b"K\x01s");
    }
    p.push(b'.');
    p
}

#[test]
fn dicts_with_many_keys_build_in_linear_time() {
    for memo in [false, true] {
        let t = Instant::now();
        let v = unpickle(&setitem_dict(200_000, memo)).unwrap();
        let Value::Dict(d) = &v else { panic!("{v:?}") };
        assert_eq!(d.len(), 200_000);
        assert_eq!(d.get("000123"), Some(&Value::Int(1)));
        // Quadratic insertion took 10 s for 80 000 keys.
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "took {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn a_repeated_key_keeps_its_place_and_takes_the_last_value() {
    // {'a': 1, 'b': 2, 'a': 3, 1: 4, True: 5, 1.0: 6}
    let p = b"\x80\x02}(\x8c\x01aK\x01\x8c\x01bK\x02\x8c\x01aK\x03K\x01K\x04\x88K\x05G?\xf0\x00\x00\x00\x00\x00\x00K\x06u.";
    let Value::Dict(d) = unpickle(p).unwrap() else {
        panic!()
    };
    let items: Vec<_> = d.iter().cloned().collect();
    assert_eq!(
        items,
        vec![
            (Value::Str("a".into()), Value::Int(3)),
            (Value::Str("b".into()), Value::Int(2)),
            (Value::Int(1), Value::Int(6)),
        ]
    );
}

#[test]
fn memoised_containers_see_later_changes() {
    // l = []; memo 0 = l; l.append(1); l.append(2); ([l], memo 0) → [[1, 2], [1, 2]]
    let p = b"\x80\x02](]q\x00K\x01aK\x02ah\x00l.";
    let expected = Value::List(vec![Value::Int(1), Value::Int(2)]);
    assert_eq!(
        unpickle(p).unwrap(),
        Value::List(vec![expected.clone(), expected])
    );
}

#[test]
fn structural_bombs_are_refused_quickly() {
    let t = Instant::now();
    // One value wrapped a million times by TUPLE1, which never grows the stack: without
    // tracking depth as it is built, dropping it overflows the call stack.
    let mut tuples = b"\x80\x02)".to_vec();
    tuples.extend(std::iter::repeat_n(0x85u8, 1_000_000));
    tuples.push(b'.');
    assert!(matches!(unpickle(&tuples), Err(Error::Pickle { .. })));
    // A list bomb: APPEND 8 million times (2 bytes an item).
    let mut list = b"\x80\x02]".to_vec();
    for _ in 0..8_000_000 {
        list.extend(b"Na");
    }
    list.push(b'.');
    let e = unpickle(&list).unwrap_err();
    assert!(e.to_string().contains("more values"), "{e}");
    // Marks without end.
    let mut marks = b"\x80\x02".to_vec();
    marks.extend(std::iter::repeat_n(b'(', 1_000_000));
    assert!(matches!(unpickle(&marks), Err(Error::Pickle { .. })));
    // A long APPENDS run beyond the stack limit.
    let mut appends = b"\x80\x02](".to_vec();
    appends.extend(std::iter::repeat_n(b'N', 1_000_000));
    appends.extend(b"e.");
    assert!(matches!(unpickle(&appends), Err(Error::Pickle { .. })));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn unpickling_stops_when_the_caller_cancels() {
    let p = setitem_dict(100_000, false);
    let mut calls = 0;
    let r = unpickle_with(&p, &mut |done, total| {
        calls += 1;
        assert!(done <= total && total == p.len());
        calls < 2
    });
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert_eq!(calls, 2);
}

#[test]
fn values_stay_small() {
    // The node budget bounds memory only if each value is small (big variants are boxed).
    assert!(size_of::<Value>() <= 40, "{} bytes", size_of::<Value>());
}
