//! The shared conformance vectors (tests/conformance/values.json) against the Rust codec.
mod common;
use common::*;

#[test]
fn encode_vectors() {
    let v = conformance("values.json");
    let mut n = 0;
    for case in v["encode"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let kind = case["kind"].as_u64().unwrap() as u8;
        let payload = hex(case["payload"].as_str().unwrap());
        let headers = case["headers"].as_bool().unwrap();
        let stored = kohakuvault::encode_value(kind, &payload, headers)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            to_hex(&stored),
            case["stored"].as_str().unwrap(),
            "encode: {name}"
        );
        let back = kohakuvault::decode_value(&stored).unwrap();
        let (want_kind, want_payload) = match case.get("decodes_as") {
            Some(d) => (
                d["kind"].as_u64().unwrap() as u8,
                d["payload"].as_str().unwrap().to_string(),
            ),
            None => (
                kind,
                case.get("decoded_payload")
                    .and_then(|p| p.as_str())
                    .unwrap_or(case["payload"].as_str().unwrap())
                    .to_string(),
            ),
        };
        assert_eq!(back.kind, want_kind, "decode kind: {name}");
        assert_eq!(
            to_hex(&back.payload),
            want_payload,
            "decode payload: {name}"
        );
        n += 1;
    }
    assert!(n >= 20);
}

#[test]
fn legacy_and_corrupt_vectors() {
    let v = conformance("values.json");
    for case in v["decode_legacy"].as_array().unwrap() {
        let t = kohakuvault::decode_value(&hex(case["stored"].as_str().unwrap())).unwrap();
        assert_eq!(
            t.kind as u64,
            case["kind"].as_u64().unwrap(),
            "{}",
            case["name"]
        );
        assert_eq!(
            to_hex(&t.payload),
            case["payload"].as_str().unwrap(),
            "{}",
            case["name"]
        );
    }
    for case in v["corrupt"].as_array().unwrap() {
        let e = kohakuvault::decode_value(&hex(case["stored"].as_str().unwrap())).unwrap_err();
        assert!(
            matches!(e, kohakuvault::VaultError::Corrupt { .. }),
            "{}: {e:?}",
            case["name"]
        );
    }
}

#[test]
fn bad_input_is_rejected() {
    use kohakuvault::VaultError::InvalidArgument;
    for (kind, payload) in [
        (99u8, vec![1u8]),
        (17, vec![0; 7]),
        (18, vec![2]),
        (16, vec![]),
        (6, vec![0xFF, 0xFE]),
        (4, vec![0x92, 0x01]),
        (19, vec![0x01, 0x01, 2, 0, 0, 0, 0]),
    ] {
        assert!(
            matches!(
                kohakuvault::encode_value(kind, &payload, true),
                Err(InvalidArgument { .. })
            ),
            "kind {kind}"
        );
    }
}

#[test]
fn msgpack_maps_are_canonical_like_1_1_0() {
    // {"b":1,"a":2} written in insertion order is stored with sorted keys, as 1.1.0 did.
    let unsorted = hex("82A16201A16102");
    let stored = kohakuvault::encode_value(4, &unsorted, true).unwrap();
    assert_eq!(to_hex(&stored), "894B010400000000564B82A16102A16201");
}

#[test]
fn transcoding_round_trips() {
    let mp = hex("82A2696407A47461677392A36F6E65A374776F");
    let cbor = kohakuvault::transcode(4, 5, &mp).unwrap();
    assert_eq!(kohakuvault::transcode(5, 4, &cbor).unwrap(), mp);
    let json = kohakuvault::transcode(4, 3, &mp).unwrap();
    assert_eq!(
        String::from_utf8(json.clone()).unwrap(),
        r#"{"id":7,"tags":["one","two"]}"#
    );
    assert_eq!(kohakuvault::transcode(3, 4, &json).unwrap(), mp);
    // 1.1.0's Cbor({"a":[1,2.5]}) bytes: shortest float forms.
    let m = hex("81A161920102CB4004000000000000");
    let _ = m;
    let mp2 = hex("81A1619201CB4004000000000000");
    assert_eq!(
        to_hex(&kohakuvault::transcode(4, 5, &mp2).unwrap()),
        "A161618201F94100"
    );
}

#[test]
fn plain_nodes_round_trip() {
    let mp = hex("82A2696407A47461677392A36F6E65A374776F");
    let nodes = kohakuvault::msgpack_to_plain(&mp).unwrap();
    assert_eq!(nodes.len(), 7);
    assert_eq!(kohakuvault::plain_to_msgpack(nodes).unwrap(), mp);
}
