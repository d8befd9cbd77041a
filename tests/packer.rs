//! DataPacker dtypes and kohakuvault 1.1.0's bytes (docs/COMPATIBILITY.md §2).
use kohakuvault::{DataPacker, VaultError};

fn items(vals: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, p) in vals {
        out.push(*k);
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

#[test]
fn scalars_and_strings() {
    let p = DataPacker::new("i64".into()).unwrap();
    assert_eq!(p.elem_size(), 8);
    assert_eq!(p.pack(16, &[0x2A]).unwrap(), 42i64.to_le_bytes());
    assert!(matches!(
        p.pack(17, &1.5f64.to_le_bytes()),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(matches!(
        p.pack(16, &[0, 0, 0, 0, 0, 0, 0, 0, 1]),
        Err(VaultError::InvalidArgument { .. })
    ));
    let f = DataPacker::new("f64".into()).unwrap();
    assert_eq!(f.pack(16, &[3]).unwrap(), 3.0f64.to_le_bytes());
    let s = DataPacker::new("str:8".into()).unwrap();
    assert_eq!(s.pack(6, b"abc").unwrap(), b"abc\0\0\0\0\0");
    assert_eq!(s.unpack(b"abc\0\0\0\0\0", 0).unwrap().payload, b"abc");
    assert!(matches!(
        s.pack(6, b"123456789"),
        Err(VaultError::InvalidArgument { .. })
    ));
    let u16le = DataPacker::new("str:utf16le".into()).unwrap();
    assert_eq!(u16le.pack(6, b"hi").unwrap(), b"h\0i\0");
    let ascii = DataPacker::new("str:ascii".into()).unwrap();
    assert!(ascii.pack(6, "é".as_bytes()).is_err());
    let b = DataPacker::new("bytes:4".into()).unwrap();
    assert_eq!(
        b.unpack(b"ab\0\0", 0).unwrap().payload,
        b"ab\0\0",
        "bytes:N keeps its padding"
    );
    for bad in ["i32", "f16", "bool", "vec:f32:0", "str:0", "nope"] {
        assert!(DataPacker::new(bad.into()).is_err(), "{bad}");
    }
}

#[test]
fn vectors_fixed_and_arbitrary_shape() {
    let p = DataPacker::new("vec:f32:2".into()).unwrap();
    assert_eq!(p.elem_size(), 9);
    let mut arr = vec![0x01, 1, 2, 0, 0, 0];
    arr.extend_from_slice(&1.0f32.to_le_bytes());
    arr.extend_from_slice(&2.0f32.to_le_bytes());
    let packed = p.pack_many(&items(&[(19, &arr), (19, &arr)])).unwrap();
    assert_eq!(packed.len(), 18);
    assert_eq!(packed[0], 0x01);
    let back = p.unpack_many(&packed, Some(2), None).unwrap();
    assert_eq!(back.len(), 2 * (5 + arr.len()));
    // Wrong shape is rejected; f64 input is cast to f32.
    let mut three = vec![0x02, 1, 3, 0, 0, 0];
    for x in [1.0f64, 2.0, 3.0] {
        three.extend_from_slice(&x.to_le_bytes());
    }
    assert!(matches!(
        p.pack(19, &three),
        Err(VaultError::InvalidArgument { .. })
    ));
    let any = DataPacker::new("vec:f32".into()).unwrap();
    let out = any.pack(19, &three).unwrap();
    assert_eq!(&out[..6], &[0x01, 1, 3, 0, 0, 0]);
    assert_eq!(&out[6..10], &1.0f32.to_le_bytes());
}

#[test]
fn msgpack_and_json_schema() {
    let mp = [0x81, 0xA2, b'i', b'd', 0x07]; // {"id": 7}
    let p = DataPacker::with_json_schema(r#"{"type":"object","required":["id"]}"#.into()).unwrap();
    assert_eq!(p.pack(4, &mp).unwrap(), mp);
    let e = p.pack(4, &[0x80]).unwrap_err();
    assert!(e.to_string().contains("Validation errors"), "{e}");
    assert!(DataPacker::with_json_schema("{\"type\": 12}".into()).is_err());
    let var = DataPacker::new("msgpack".into()).unwrap();
    let data = [mp.as_slice(), &[0x92, 1, 2]].concat();
    let back = var
        .unpack_many(&data, None, Some(vec![0, mp.len() as u64]))
        .unwrap();
    assert_eq!(back[0], 4);
    assert!(matches!(
        var.unpack_many(&data, Some(2), None),
        Err(VaultError::InvalidArgument { .. })
    ));
    let cbor = DataPacker::with_cddl_schema(None);
    assert_eq!(
        cbor.pack(4, &mp).unwrap(),
        vec![0xA1, 0x62, b'i', b'd', 0x07]
    );
}
