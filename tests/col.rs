//! ColumnVault core: block layout (1.1.0's), fixed and variable rows, caches, errors.
use kohakuvault::{ColumnLayout, ColumnStore, OpenOptions, VaultError};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn open(p: &std::path::Path, block: u64) -> ColumnStore {
    ColumnStore::new(p.to_str().unwrap().into(), block, OpenOptions::default()).unwrap()
}

fn i64s(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_i64s(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn lens(rows: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
    let l = rows
        .iter()
        .flat_map(|r| (r.len() as u32).to_le_bytes())
        .collect();
    (l, rows.concat())
}

fn var_rows(v: &kohakuvault::VarRows) -> Vec<Vec<u8>> {
    let ends: Vec<usize> = v
        .offsets
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as usize)
        .collect();
    ends.windows(2)
        .map(|w| v.data[w[0]..w[1]].to_vec())
        .collect()
}

fn idx(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn fixed_rows_span_blocks_and_read_back() {
    let d = tmp();
    let cv = open(&d.path().join("a.db"), 64); // 8 i64 rows per block
    let c = cv.create_column("n".into(), "i64".into(), None).unwrap();
    assert_eq!(c.layout, ColumnLayout::Scalar);
    assert_eq!((c.elem_size, c.elem_dtype, c.length), (8, 0x04, 0));
    let all: Vec<i64> = (0..100).collect();
    cv.append_rows(c.id, &i64s(&all[..37])).unwrap();
    cv.append_rows(c.id, &i64s(&all[37..])).unwrap();
    assert_eq!(cv.length(c.id).unwrap(), 100);
    assert_eq!(from_i64s(&cv.read_rows(c.id, 0, 100).unwrap()), all);
    assert_eq!(from_i64s(&cv.read_rows(c.id, 5, 10).unwrap()), &all[5..15]);
    assert!(cv.read_rows(c.id, 95, 6).is_err(), "past the end");
    assert_eq!(
        from_i64s(&cv.take_rows(c.id, &idx(&[99, 0, 50, 50, 7])).unwrap()),
        [99, 0, 50, 50, 7]
    );
    assert!(cv.take_rows(c.id, &idx(&[100])).is_err());
    let info = cv.storage_info(c.id).unwrap();
    assert_eq!(info.blocks, 13);
    assert_eq!(info.payload_bytes, 800);
    assert_eq!(info.capacity_bytes, 13 * 64);
    // In-place overwrite across a block boundary.
    cv.overwrite_rows(c.id, 6, &i64s(&[-1, -2, -3])).unwrap();
    assert_eq!(
        from_i64s(&cv.read_rows(c.id, 5, 5).unwrap()),
        [5, -1, -2, -3, 9]
    );
    // Delete 2 rows at 10, insert 3 at 0: one transaction each.
    cv.splice_rows(c.id, 10, 2, &[], &[]).unwrap();
    cv.splice_rows(c.id, 0, 0, &[], &i64s(&[7, 8, 9])).unwrap();
    let got = from_i64s(&cv.read_rows(c.id, 0, cv.length(c.id).unwrap()).unwrap());
    let mut want: Vec<i64> = vec![7, 8, 9, 0, 1, 2, 3, 4, 5, -1, -2, -3, 9];
    want.extend(12..100);
    assert_eq!(got, want);
    cv.clear(c.id).unwrap();
    assert_eq!(cv.length(c.id).unwrap(), 0);
    assert_eq!(cv.storage_info(c.id).unwrap().blocks, 0);
    // Bad input changes nothing.
    assert!(matches!(
        cv.append_rows(c.id, &[1, 2, 3]),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert_eq!(cv.length(c.id).unwrap(), 0);
}

#[test]
fn variable_rows_follow_the_1_1_0_layout() {
    let d = tmp();
    let p = d.path().join("v.db");
    let cv = open(&p, 64);
    let c = cv.create_column("s".into(), "str".into(), None).unwrap();
    assert_eq!(
        (c.layout, c.elem_size, c.value_kind),
        (ColumnLayout::Text, 0, 6)
    );
    let rows: Vec<Vec<u8>> = (0..10).map(|i| vec![b'x'; i]).collect();
    let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
    let (l, data) = lens(&refs);
    cv.append_var_rows(c.id, &l, &data).unwrap();
    // 1.1.0 wrote exactly this: 3 blocks of row capacity 4, payload capacity 64, 40-byte offsets.
    let conn = rusqlite::Connection::open(&p).unwrap();
    let blocks: Vec<(i64, i64, i64, i64, i64)> = conn
        .prepare("SELECT b.first_row, b.row_count, b.row_capacity, b.capacity_bytes, length(d.offsets) FROM kvault_col_blocks b JOIN kvault_col_data d USING (block_id) ORDER BY block_no")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        blocks,
        [(0, 4, 4, 64, 40), (4, 4, 4, 64, 40), (8, 2, 4, 64, 40)]
    );
    drop(conn);
    assert_eq!(var_rows(&cv.read_var_rows(c.id, 0, 10).unwrap()), rows);
    assert_eq!(
        var_rows(&cv.read_var_rows(c.id, 3, 6).unwrap()),
        &rows[3..9]
    );
    assert_eq!(
        var_rows(&cv.take_var_rows(c.id, &idx(&[9, 0, 9])).unwrap()),
        [rows[9].clone(), rows[0].clone(), rows[9].clone()]
    );
    // A record bigger than a block gets a dedicated block.
    let big = vec![b'y'; 200];
    let (l, data) = lens(&[&big, b"z"]);
    cv.append_var_rows(c.id, &l, &data).unwrap();
    let got = var_rows(&cv.read_var_rows(c.id, 9, 3).unwrap());
    assert_eq!(got, [rows[9].clone(), big.clone(), b"z".to_vec()]);
    // Replace a row of another length (slice set), then delete one.
    let (l, data) = lens(&[b"hello world"]);
    cv.splice_rows(c.id, 2, 1, &l, &data).unwrap();
    cv.splice_rows(c.id, 0, 1, &[], &[]).unwrap();
    let all = var_rows(&cv.read_var_rows(c.id, 0, cv.length(c.id).unwrap()).unwrap());
    assert_eq!(all.len(), 11);
    assert_eq!(all[0], rows[1]);
    assert_eq!(all[1], b"hello world");
    assert_eq!(all[9], big);
}

#[test]
fn values_are_encoded_by_the_dtype() {
    let d = tmp();
    let cv = open(&d.path().join("t.db"), 1 << 20);
    let s = cv
        .create_column("u16".into(), "str:utf16le".into(), None)
        .unwrap();
    let (l, data) = lens(&[b"\xc3\xa9t\xc3\xa9".as_slice(), b"ab"]);
    cv.append_values(s.id, &[6, 6], &l, &data).unwrap();
    let stored = var_rows(&cv.read_var_rows(s.id, 0, 2).unwrap());
    assert_eq!(stored[1], [b'a', 0, b'b', 0]);
    let items = cv.read_values(s.id, 0, 2).unwrap();
    assert_eq!(&items[..5], &[6, 5, 0, 0, 0]);
    assert_eq!(&items[5..10], "été".as_bytes());
    // Not a str: the batch fails whole.
    assert!(cv.append_values(s.id, &[6, 0], &l, &data).is_err());
    assert_eq!(cv.length(s.id).unwrap(), 2);
    // A DataPacker column (fixed width str:8).
    let f = cv
        .create_column("fixed".into(), "str:8".into(), None)
        .unwrap();
    assert_eq!((f.layout, f.elem_size), (ColumnLayout::Packed, 8));
    let (l, data) = lens(&[b"abc"]);
    cv.append_values(f.id, &[6], &l, &data).unwrap();
    assert_eq!(cv.read_rows(f.id, 0, 1).unwrap(), b"abc\0\0\0\0\0");
    assert_eq!(
        cv.read_values(f.id, 0, 1).unwrap(),
        [&[6, 3, 0, 0, 0][..], b"abc"].concat()
    );
    // Tensors: raw rows of the shape.
    let t = cv
        .create_column("emb".into(), "vec:f32:2:2".into(), None)
        .unwrap();
    assert_eq!(
        (t.layout, t.elem_size, t.shape.clone()),
        (ColumnLayout::Tensor, 16, vec![2, 2])
    );
    // Errors: unknown dtype, codec, duplicate name, dtype mismatch on ensure.
    assert!(matches!(
        cv.create_column("x".into(), "nope".into(), None),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(matches!(
        cv.create_column("x".into(), "str:klingon".into(), None),
        Err(VaultError::UnsupportedEncoding { .. })
    ));
    assert!(cv.create_column("emb".into(), "i64".into(), None).is_err());
    let e = cv
        .ensure_column("emb".into(), "i64".into(), None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Column 'emb' has dtype 'vec:f32:2:2', not 'i64'"
    );
    assert_eq!(
        cv.ensure_column("emb".into(), "vec:f32:2:2".into(), None)
            .unwrap()
            .id,
        t.id
    );
    let names: Vec<String> = cv
        .list_columns()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["u16", "fixed", "emb"]);
    assert!(cv.delete_column("fixed".into()).unwrap());
    assert!(!cv.delete_column("fixed".into()).unwrap());
    assert!(matches!(cv.length(f.id), Err(VaultError::NotFound { .. })));
}

#[test]
fn caches_buffer_flush_on_read_and_survive_drop() {
    let d = tmp();
    let p = d.path().join("c.db");
    {
        let cv = open(&p, 1 << 20);
        let c = cv.create_column("n".into(), "i64".into(), None).unwrap();
        cv.enable_cache(Some(c.id), 1 << 20, 1 << 19, None).unwrap();
        cv.append_rows(c.id, &i64s(&[1, 2, 3])).unwrap();
        assert_eq!(cv.length(c.id).unwrap(), 3, "length counts pending rows");
        assert_eq!(cv.pending_bytes(Some(c.id)).unwrap(), 24);
        let other = open(&p, 1 << 20);
        assert_eq!(other.length(c.id).unwrap(), 0, "not committed yet");
        // A read flushes first.
        assert_eq!(from_i64s(&cv.read_rows(c.id, 0, 3).unwrap()), [1, 2, 3]);
        assert_eq!(cv.pending_bytes(None).unwrap(), 0);
        cv.append_rows(c.id, &i64s(&[4])).unwrap();
        // Vault-wide setting applies to columns created later.
        cv.enable_cache(None, 1 << 20, 1 << 19, None).unwrap();
        let s = cv.create_column("s".into(), "bytes".into(), None).unwrap();
        let (l, data) = lens(&[b"pending"]);
        cv.append_var_rows(s.id, &l, &data).unwrap();
        assert_eq!(cv.pending_bytes(Some(s.id)).unwrap(), 15);
        assert!(cv.cache_config(None).unwrap().is_some());
        // Dropped without close(): nothing pending is lost.
    }
    let cv = open(&p, 1 << 20);
    let n = cv.info("n".into()).unwrap().unwrap();
    assert_eq!(from_i64s(&cv.read_rows(n.id, 0, 4).unwrap()), [1, 2, 3, 4]);
    let s = cv.info("s".into()).unwrap().unwrap();
    assert_eq!(
        var_rows(&cv.read_var_rows(s.id, 0, 1).unwrap()),
        [b"pending".to_vec()]
    );
}

#[test]
fn failed_flush_keeps_rows_and_threshold_flushes() {
    let d = tmp();
    let p = d.path().join("f.db");
    let cv = open(&p, 1 << 20);
    let c = cv.create_column("n".into(), "i64".into(), None).unwrap();
    cv.enable_cache(Some(c.id), 64, 32, None).unwrap();
    cv.append_rows(c.id, &i64s(&[1, 2, 3])).unwrap(); // 24 bytes: pending
    assert_eq!(cv.pending_bytes(Some(c.id)).unwrap(), 24);
    cv.append_rows(c.id, &i64s(&[4])).unwrap(); // 32 bytes: threshold flush
    assert_eq!(cv.pending_bytes(Some(c.id)).unwrap(), 0);
    // A trigger that refuses writes to the blocks makes the next flush fail.
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_blocks BEFORE UPDATE ON kvault_col_columns BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    cv.append_rows(c.id, &i64s(&[5])).unwrap();
    assert!(cv.flush_cache(Some(c.id)).is_err());
    assert_eq!(cv.pending_bytes(Some(c.id)).unwrap(), 8, "kept for retry");
    assert!(cv.close().is_err(), "close flushes, fails, stays open");
    conn.execute_batch("DROP TRIGGER no_blocks").unwrap();
    assert_eq!(cv.flush_cache(None).unwrap(), 8);
    assert_eq!(
        from_i64s(&cv.read_rows(c.id, 0, 5).unwrap()),
        [1, 2, 3, 4, 5]
    );
    cv.close().unwrap();
    assert!(
        matches!(cv.length(c.id), Err(VaultError::Closed { reason }) if reason.contains("ColumnVault"))
    );
}

#[test]
fn periodic_flush_runs_in_the_core() {
    let d = tmp();
    let p = d.path().join("i.db");
    let cv = open(&p, 1 << 20);
    let c = cv.create_column("n".into(), "i64".into(), None).unwrap();
    cv.enable_cache(None, 1 << 20, 1 << 20, Some(0.05)).unwrap();
    cv.append_rows(c.id, &i64s(&[42])).unwrap();
    let other = open(&p, 1 << 20);
    let start = std::time::Instant::now();
    while other.length(c.id).unwrap() == 0 {
        assert!(
            start.elapsed().as_secs() < 5,
            "the periodic flush never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(cv.take_background_error().is_none());
}

#[test]
fn format_version_read_only_and_uris() {
    let d = tmp();
    let p = d.path().join("r.db");
    let ro = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch("CREATE TABLE x(y)")
        .unwrap();
    let e = ColumnStore::new(p.to_str().unwrap().into(), 1 << 20, ro.clone())
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "SQLite error: no such table: kvault_col_format"
    );
    {
        let cv = open(&p, 1 << 20);
        let c = cv.create_column("n".into(), "i64".into(), None).unwrap();
        cv.append_rows(c.id, &i64s(&[1])).unwrap();
        cv.close().unwrap();
    }
    let r = ColumnStore::new(p.to_str().unwrap().into(), 1 << 20, ro).unwrap();
    let c = r.info("n".into()).unwrap().unwrap();
    assert_eq!(from_i64s(&r.read_rows(c.id, 0, 1).unwrap()), [1]);
    assert!(matches!(
        r.append_rows(c.id, &i64s(&[2])),
        Err(VaultError::ReadOnly { reason }) if reason == "ColumnVault is read-only"
    ));
    r.close().unwrap();
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch("UPDATE kvault_col_format SET version = 2")
        .unwrap();
    let e = ColumnStore::new(p.to_str().unwrap().into(), 1 << 20, OpenOptions::default())
        .err()
        .unwrap();
    assert_eq!(e.to_string(), "unsupported column format version 2");
    assert!(ColumnStore::new("file:x.db".into(), 1 << 20, OpenOptions::default()).is_err());
    assert!(ColumnStore::new(":memory:".into(), 0, OpenOptions::default()).is_err());
}

/// A file kohakuvault 1.1.0 wrote (tests/fixtures/make_columns_fixture.py) opens, reads and takes
/// appends; the expected values are in columns_110.json.
#[test]
fn reads_and_appends_to_a_1_1_0_file() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(here.join("columns_110.json")).unwrap())
            .unwrap();
    let d = tmp();
    let p = d.path().join("old.db");
    std::fs::copy(here.join("columns_110.sqlite"), &p).unwrap();
    let cv = open(&p, 1 << 20);
    let cols = want["columns"].as_object().unwrap();
    assert_eq!(cv.list_columns().unwrap().len(), cols.len());
    for (name, spec) in cols {
        let info = cv.info(name.clone()).unwrap().unwrap();
        let values = spec["values"].as_array().unwrap();
        assert_eq!(info.dtype, spec["dtype"].as_str().unwrap());
        assert_eq!(info.length, values.len() as u64, "{name}");
        let n = info.length;
        match name.as_str() {
            "ids" => {
                let got = from_i64s(&cv.read_rows(info.id, 0, n).unwrap());
                let exp: Vec<i64> = values.iter().map(|v| v.as_i64().unwrap()).collect();
                assert_eq!(got, exp);
            }
            "score" => {
                let got: Vec<f64> = cv
                    .read_rows(info.id, 0, n)
                    .unwrap()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                let exp: Vec<f64> = values.iter().map(|v| v.as_f64().unwrap()).collect();
                assert_eq!(got, exp);
            }
            "small" | "flags" => {
                let got = cv.read_rows(info.id, 0, n).unwrap();
                let exp: Vec<u8> = values
                    .iter()
                    .map(|v| v.as_u64().or(v.as_bool().map(u64::from)).unwrap() as u8)
                    .collect();
                assert_eq!(got, exp);
            }
            "text" | "text16" | "name8" => {
                let items = cv.read_values(info.id, 0, n).unwrap();
                let mut texts = Vec::new();
                let mut at = 0;
                while at < items.len() {
                    assert_eq!(items[at], 6);
                    let len =
                        u32::from_le_bytes(items[at + 1..at + 5].try_into().unwrap()) as usize;
                    texts.push(String::from_utf8(items[at + 5..at + 5 + len].to_vec()).unwrap());
                    at += 5 + len;
                }
                let exp: Vec<&str> = values.iter().map(|v| v.as_str().unwrap()).collect();
                // (str:N keeps 1.1.0's reading: trailing NULs stripped.)
                assert_eq!(texts, exp, "{name}");
            }
            "blob" => {
                let got = var_rows(&cv.read_var_rows(info.id, 0, n).unwrap());
                let exp: Vec<Vec<u8>> = values
                    .iter()
                    .map(|v| {
                        let h = v["hex"].as_str().unwrap();
                        (0..h.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                            .collect()
                    })
                    .collect();
                assert_eq!(got, exp);
            }
            _ => {
                // Every other column reads whole (its values are checked by the Python suite).
                if info.elem_size > 0 {
                    assert_eq!(
                        cv.read_rows(info.id, 0, n).unwrap().len() as u64,
                        n * info.elem_size
                    );
                } else {
                    assert_eq!(
                        var_rows(&cv.read_var_rows(info.id, 0, n).unwrap()).len() as u64,
                        n
                    );
                }
            }
        }
    }
    // Appends continue 1.1.0's blocks (64-byte blocks, recorded per column).
    let ids = cv.info("ids".into()).unwrap().unwrap();
    assert_eq!(ids.block_bytes, 64);
    cv.append_rows(ids.id, &i64s(&[7, 8, 9])).unwrap();
    let all = from_i64s(&cv.read_rows(ids.id, 0, ids.length + 3).unwrap());
    assert_eq!(&all[all.len() - 4..], [139, 7, 8, 9]);
    let text = cv.info("text".into()).unwrap().unwrap();
    let (l, data) = lens(&[b"appended"]);
    cv.append_var_rows(text.id, &l, &data).unwrap();
    let rows = var_rows(&cv.read_var_rows(text.id, 0, text.length + 1).unwrap());
    assert_eq!(rows.last().unwrap(), b"appended");
    assert_eq!(rows[2], "été".as_bytes());
    let conn = rusqlite::Connection::open(&p).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// tests/conformance/columns.json: every dtype's rows are 1.1.0's exact bytes. Values cross as
/// the facades send them (raw rows for numeric columns, UTF-8 text, MessagePack for packers).
#[test]
fn conformance_vectors_match_1_1_0_bytes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/conformance/columns.json")).unwrap(),
    )
    .unwrap();
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    let d = tmp();
    let cv = open(&d.path().join("conf.db"), 1 << 20);
    for (i, case) in doc["cases"].as_array().unwrap().iter().enumerate() {
        let dtype = case["dtype"].as_str().unwrap();
        let rows: Vec<Vec<u8>> = case["rows_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hex(h.as_str().unwrap()))
            .collect();
        let info = cv
            .create_column(format!("c{i}"), dtype.into(), None)
            .unwrap();
        assert_eq!(
            info.elem_size,
            case["elem_size"].as_u64().unwrap(),
            "{dtype}"
        );
        let n = rows.len() as u64;
        match info.layout {
            ColumnLayout::Scalar | ColumnLayout::Tensor => {
                cv.append_rows(info.id, &rows.concat()).unwrap();
            }
            _ => {
                let mut kinds = Vec::new();
                let mut payloads: Vec<Vec<u8>> = Vec::new();
                for v in case["values"].as_array().unwrap() {
                    if let Some(h) = v.get("hex") {
                        kinds.push(0u8);
                        payloads.push(hex(h.as_str().unwrap()));
                    } else if info.value_kind == 6 {
                        kinds.push(6);
                        payloads.push(v.as_str().unwrap().as_bytes().to_vec());
                    } else {
                        kinds.push(4);
                        let json = serde_json::to_vec(v).unwrap();
                        payloads.push(kohakuvault::transcode(3, 4, &json).unwrap());
                    }
                }
                let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                let (l, data) = lens(&refs);
                cv.append_values(info.id, &kinds, &l, &data).unwrap();
            }
        }
        let stored = if info.elem_size > 0 {
            cv.read_rows(info.id, 0, n)
                .unwrap()
                .chunks_exact(info.elem_size as usize)
                .map(<[u8]>::to_vec)
                .collect()
        } else {
            var_rows(&cv.read_var_rows(info.id, 0, n).unwrap())
        };
        assert_eq!(stored, rows, "{dtype}");
    }
}

#[test]
fn variable_splices_keep_earlier_blocks_and_take_values_decodes() {
    let d = tmp();
    let p = d.path().join("s.db");
    let cv = open(&p, 64);
    let c = cv.create_column("s".into(), "str".into(), None).unwrap();
    let rows: Vec<Vec<u8>> = (0..12).map(|i| format!("row{i:02}").into_bytes()).collect();
    let refs: Vec<&[u8]> = rows.iter().map(Vec::as_slice).collect();
    let (l, data) = lens(&refs);
    cv.append_var_rows(c.id, &l, &data).unwrap();
    let ids = |p: &std::path::Path| -> Vec<i64> {
        rusqlite::Connection::open(p)
            .unwrap()
            .prepare("SELECT block_id FROM kvault_col_blocks ORDER BY block_no")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let before = ids(&p);
    assert_eq!(before.len(), 3, "4 rows per 64-byte block");
    // Replace row 9 (third block): the first two blocks are not rewritten.
    let (l, data) = lens(&[b"nine, longer"]);
    cv.splice_rows(c.id, 9, 1, &l, &data).unwrap();
    let after = ids(&p);
    assert_eq!(&after[..2], &before[..2]);
    let all = var_rows(&cv.read_var_rows(c.id, 0, 12).unwrap());
    assert_eq!(all[9], b"nine, longer");
    assert_eq!(all[8], rows[8]);
    assert_eq!(all[10], rows[10]);
    // take_values: decoded items in order.
    let items = cv.take_values(c.id, &idx(&[11, 0])).unwrap();
    assert_eq!(
        items,
        [&[6, 5, 0, 0, 0][..], b"row11", &[6, 5, 0, 0, 0], b"row00"].concat()
    );
    assert!(cv.take_values(c.id, &idx(&[12])).is_err());
    let n = cv
        .create_column("n".into(), "vec:f32:2".into(), None)
        .unwrap();
    assert_eq!(n.value_kind, 0, "numeric rows cross raw");
}
