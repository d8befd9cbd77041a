//! What a vector table is: dimensions, element type and metric (docs/FORMAT.md §7). Parsed from
//! the constructor's strings with kohakuvault 1.1.0's messages, and from the `vec0` DDL stored in
//! the file, which is where a table's spec lives (1.1.0's tables included): reopening with a
//! different spec is refused by comparing the two.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Cosine,
    L2,
    L1,
    Hamming,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    F32,
    Int8,
    Bit,
}

impl Metric {
    pub fn parse(s: &str) -> Result<Metric> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" => Ok(Metric::Cosine),
            "l2" | "euclidean" => Ok(Metric::L2),
            "l1" | "manhattan" => Ok(Metric::L1),
            "hamming" => Ok(Metric::Hamming),
            _ => Err(Error::invalid(format!(
                "Unknown metric '{s}'. Expected: cosine, l2, l1, or hamming"
            ))),
        }
    }
    /// The canonical name facades see.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
            Metric::L1 => "l1",
            Metric::Hamming => "hamming",
        }
    }
    /// The spelling of `info()` in 1.1.0 (and of the DDL's `distance_metric=`).
    pub fn info_name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "L2",
            Metric::L1 => "L1",
            Metric::Hamming => "hamming",
        }
    }
}

impl ElemType {
    pub fn parse(s: &str) -> Result<ElemType> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" | "float" => Ok(ElemType::F32),
            "int8" | "i8" => Ok(ElemType::Int8),
            "bit" => Ok(ElemType::Bit),
            _ => Err(Error::invalid(format!("Unknown vector type: {s}"))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ElemType::F32 => "f32",
            ElemType::Int8 => "int8",
            ElemType::Bit => "bit",
        }
    }
    pub fn info_name(self) -> &'static str {
        match self {
            ElemType::F32 => "float32",
            ElemType::Int8 => "int8",
            ElemType::Bit => "bit",
        }
    }
    fn ddl_name(self) -> &'static str {
        match self {
            ElemType::F32 => "float",
            ElemType::Int8 => "int8",
            ElemType::Bit => "bit",
        }
    }
}

/// A vector table's shape and metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub dims: u32,
    pub elem: ElemType,
    pub metric: Metric,
}

impl Spec {
    /// Validates a constructor's arguments (1.1.0's checks and messages).
    pub fn new(dims: u32, metric: &str, vector_type: &str) -> Result<Spec> {
        let metric = Metric::parse(metric)?;
        let elem = ElemType::parse(vector_type)?;
        let ok = match metric {
            Metric::Cosine => elem == ElemType::F32,
            Metric::L1 | Metric::L2 => elem != ElemType::Bit,
            Metric::Hamming => elem == ElemType::Bit,
        };
        if !ok {
            return Err(Error::invalid(format!(
                "Metric '{}' is not compatible with vector type '{}'",
                metric.name(),
                elem.name()
            )));
        }
        if dims == 0 {
            return Err(Error::invalid("dimensions must be positive"));
        }
        if elem == ElemType::Bit && !dims.is_multiple_of(8) {
            return Err(Error::invalid(format!(
                "Bit vector dimensions must be divisible by 8, got {dims}"
            )));
        }
        if dims > 65536 {
            return Err(Error::invalid(format!(
                "dimensions must be at most 65536, got {dims}"
            )));
        }
        Ok(Spec { dims, elem, metric })
    }

    /// Bytes of one stored row.
    pub fn row_bytes(&self) -> usize {
        match self.elem {
            ElemType::F32 => self.dims as usize * 4,
            ElemType::Int8 => self.dims as usize,
            ElemType::Bit => self.dims as usize / 8,
        }
    }

    /// The `vector …` column of the `vec0` DDL, as 1.1.0 writes it for f32 (bit vectors take no
    /// `distance_metric`: hamming is implied).
    pub fn ddl_column(&self) -> String {
        let base = format!("vector {}[{}]", self.elem.ddl_name(), self.dims);
        match self.elem {
            ElemType::Bit => base,
            _ => format!("{base} distance_metric={}", self.metric.info_name()),
        }
    }

    /// How an SQL parameter holding a row is passed to `vec0` (int8 and bit rows need their
    /// subtype).
    pub fn sql_param(&self) -> &'static str {
        match self.elem {
            ElemType::F32 => "?",
            ElemType::Int8 => "vec_int8(?)",
            ElemType::Bit => "vec_bit(?)",
        }
    }

    /// Reads the spec of a `vec0` table from its `CREATE VIRTUAL TABLE` text.
    pub fn from_ddl(sql: &str) -> Result<Spec> {
        let lower = sql.to_ascii_lowercase();
        let bad = || Error::corrupt(format!("not a VectorKVault vec0 table: {sql}"));
        let at = lower.find("vector ").ok_or_else(bad)?;
        let rest = &lower[at + "vector ".len()..];
        let rest = rest.trim_start();
        let open = rest.find('[').ok_or_else(bad)?;
        let close = rest.find(']').ok_or_else(bad)?;
        let elem = match rest[..open].trim() {
            "float" | "f32" | "float32" => ElemType::F32,
            "int8" | "i8" => ElemType::Int8,
            "bit" => ElemType::Bit,
            _ => return Err(bad()),
        };
        let dims: u32 = rest[open + 1..close].trim().parse().map_err(|_| bad())?;
        let after = &rest[close + 1..];
        let metric = match after.find("distance_metric") {
            Some(p) => {
                let v = after[p + "distance_metric".len()..].trim_start();
                let v = v.strip_prefix('=').ok_or_else(bad)?.trim_start();
                let end = v
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .unwrap_or(v.len());
                Metric::parse(&v[..end]).map_err(|_| bad())?
            }
            None if elem == ElemType::Bit => Metric::Hamming,
            None => Metric::L2, // sqlite-vec's default
        };
        Ok(Spec { dims, elem, metric })
    }

    pub fn describe(&self) -> String {
        format!(
            "dimensions={}, metric={}, vector_type={}",
            self.dims,
            self.metric.name(),
            self.elem.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_round_trip() {
        for (d, m, t) in [
            (4, "cosine", "f32"),
            (8, "l2", "int8"),
            (16, "hamming", "bit"),
            (3, "L1", "float32"),
        ] {
            let s = Spec::new(d, m, t).unwrap();
            let ddl = format!(
                "CREATE VIRTUAL TABLE t USING vec0(\n value_ref INTEGER,\n {}\n)",
                s.ddl_column()
            );
            assert_eq!(Spec::from_ddl(&ddl).unwrap(), s);
        }
    }

    #[test]
    fn messages() {
        let e = |d, m, t| Spec::new(d, m, t).unwrap_err().to_string();
        assert_eq!(
            e(4, "dot", "f32"),
            "Unknown metric 'dot'. Expected: cosine, l2, l1, or hamming"
        );
        assert_eq!(e(4, "cosine", "x"), "Unknown vector type: x");
        assert_eq!(
            e(4, "cosine", "int8"),
            "Metric 'cosine' is not compatible with vector type 'int8'"
        );
        assert_eq!(
            e(7, "hamming", "bit"),
            "Bit vector dimensions must be divisible by 8, got 7"
        );
        assert_eq!(e(0, "l2", "f32"), "dimensions must be positive");
    }
}
