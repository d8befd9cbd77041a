//! Cross-language .db check (tests/conformance/xlang.json): writes `<KV_XLANG_DIR>/rust.db`
//! and reads every other language's file found there.
mod common;
use common::*;

fn kind_payload(e: &serde_json::Value) -> (u8, Vec<u8>) {
    match e["type"].as_str().unwrap() {
        "bytes" => (0, hex(e["value_hex"].as_str().unwrap())),
        "string" => (6, e["value"].as_str().unwrap().as_bytes().to_vec()),
        "int" => (16, e["value"].as_i64().unwrap().to_le_bytes().to_vec()),
        "float" => (17, e["value"].as_f64().unwrap().to_le_bytes().to_vec()),
        "bool" => (18, vec![e["value"].as_bool().unwrap() as u8]),
        "msgpack_hex" => (4, hex(e["value_hex"].as_str().unwrap())),
        "f32_array" => {
            let vals = e["value"].as_array().unwrap();
            let mut p = vec![0x01, 1];
            p.extend_from_slice(&(vals.len() as u32).to_le_bytes());
            for v in vals {
                p.extend_from_slice(&(v.as_f64().unwrap() as f32).to_le_bytes());
            }
            (19, p)
        }
        t => panic!("unknown xlang type {t}"),
    }
}

#[test]
fn xlang_write_and_read() {
    let spec = conformance("xlang.json");
    let entries = spec["entries"].as_array().unwrap();
    let dir = match std::env::var("KV_XLANG_DIR") {
        Ok(d) => std::path::PathBuf::from(d),
        Err(_) => tempfile::tempdir().unwrap().keep(),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let mine = dir.join("rust.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", mine.display()));
    }
    {
        let kv = open(&mine);
        for e in entries {
            let (k, p) = kind_payload(e);
            kv.put(e["key"].as_str().unwrap().as_bytes(), k, &p)
                .unwrap();
        }
        kv.close().unwrap();
    }
    let required: Vec<String> = std::env::var("KV_XLANG_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    for lang in ["rust", "python", "kotlin", "swift"] {
        let p = dir.join(format!("{lang}.db"));
        if !p.exists() {
            assert!(
                !required.contains(&lang.to_string()),
                "{lang}.db is required but missing"
            );
            continue;
        }
        let kv = open(&p);
        for e in entries {
            let key = e["key"].as_str().unwrap().as_bytes();
            let stored = kv
                .get_stored(key)
                .unwrap()
                .unwrap_or_else(|| panic!("{lang}: missing {:?}", e["key"]));
            assert_eq!(
                to_hex(&stored),
                e["stored"].as_str().unwrap(),
                "{lang}: {}",
                e["key"]
            );
            let t = kv.get(key).unwrap().unwrap();
            let (want_kind, want_payload) = kind_payload(e);
            assert_eq!(t.kind, want_kind, "{lang}: {}", e["key"]);
            if want_kind != 16 {
                assert_eq!(t.payload, want_payload, "{lang}: {}", e["key"]);
            }
        }
        kv.close().unwrap();
    }
}

/// VectorKVault: writes `<KV_XLANG_DIR>/rust-vectors.db` (table "vec_xlang", the rows of the
/// vectors.json case "xlang") and searches every other language's file with that case's queries.
#[test]
fn xlang_vectors() {
    let spec = conformance("vectors.json");
    let case = spec["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "xlang")
        .unwrap();
    xlang_round(
        "-vectors.db",
        false,
        |mine| {
            let v = open_vectors(mine, "vec_xlang", case);
            fill_vector_case(&v, case);
            v.close().unwrap();
        },
        |p, lang| check_vector_case(&open_vectors(p, "vec_xlang", case), case, lang),
    );
}
