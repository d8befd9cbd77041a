//! What a text table is: its indexed columns and its tokenizer (docs/FORMAT.md §8), written into
//! the FTS5 DDL and read back from it on open, so a reopen with other columns or another
//! tokenizer is refused with both named.

use crate::error::{Error, Result};

/// The column 1.1.0 adds after the indexed ones (the `{t}_values` id).
pub const VALUE_REF: &str = "value_ref";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tokenizer {
    /// FTS5's default; `None` = the DDL names no tokenizer (1.1.0's tables).
    Unicode61(Option<u8>),
    Porter(Option<u8>),
    Trigram(Option<u8>),
}

impl Tokenizer {
    pub fn parse(name: &str, remove_diacritics: Option<u8>) -> Result<Tokenizer> {
        if let Some(r) = remove_diacritics {
            if r > 2 {
                return Err(Error::invalid(format!(
                    "remove_diacritics must be 0, 1 or 2, got {r}"
                )));
            }
        }
        match name.to_ascii_lowercase().as_str() {
            "" | "unicode61" => Ok(Tokenizer::Unicode61(remove_diacritics)),
            "porter" => Ok(Tokenizer::Porter(remove_diacritics)),
            "trigram" => {
                if remove_diacritics == Some(2) {
                    return Err(Error::invalid(
                        "the trigram tokenizer takes remove_diacritics 0 or 1",
                    ));
                }
                Ok(Tokenizer::Trigram(remove_diacritics))
            }
            _ => Err(Error::invalid(format!(
                "Unknown tokenizer '{name}'. Expected: unicode61, porter, or trigram"
            ))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Tokenizer::Unicode61(_) => "unicode61",
            Tokenizer::Porter(_) => "porter",
            Tokenizer::Trigram(_) => "trigram",
        }
    }

    pub fn remove_diacritics(&self) -> Option<u8> {
        match self {
            Tokenizer::Unicode61(r) | Tokenizer::Porter(r) | Tokenizer::Trigram(r) => *r,
        }
    }

    /// The effective setting (FTS5's defaults: 1 for unicode61/porter, 0 for trigram).
    fn effective(&self) -> (&'static str, u8) {
        match self {
            Tokenizer::Unicode61(r) => ("unicode61", r.unwrap_or(1)),
            Tokenizer::Porter(r) => ("porter", r.unwrap_or(1)),
            Tokenizer::Trigram(r) => ("trigram", r.unwrap_or(0)),
        }
    }

    /// The `tokenize = '…'` option of the DDL, or nothing for FTS5's default (as 1.1.0 wrote).
    pub fn ddl_option(&self) -> Option<String> {
        match self {
            Tokenizer::Unicode61(None) => None,
            Tokenizer::Unicode61(Some(r)) => Some(format!("unicode61 remove_diacritics {r}")),
            Tokenizer::Porter(None) => Some("porter unicode61".into()),
            Tokenizer::Porter(Some(r)) => Some(format!("porter unicode61 remove_diacritics {r}")),
            Tokenizer::Trigram(None) => Some("trigram".into()),
            Tokenizer::Trigram(Some(r)) => Some(format!("trigram remove_diacritics {r}")),
        }
    }

    /// Two tokenizers index alike (unicode61 with no option equals unicode61 with 1).
    pub fn same_as(&self, other: &Tokenizer) -> bool {
        self.effective() == other.effective()
    }

    pub fn describe(&self) -> String {
        let (n, r) = self.effective();
        format!("tokenizer={n} (remove_diacritics {r})")
    }

    fn from_option(opt: &str) -> Result<Tokenizer> {
        let words: Vec<&str> = opt.split_whitespace().collect();
        let rd = words
            .windows(2)
            .find(|w| w[0].eq_ignore_ascii_case("remove_diacritics"))
            .map(|w| w[1].parse::<u8>())
            .transpose()
            .map_err(|_| Error::corrupt(format!("unreadable FTS5 tokenizer option: {opt}")))?;
        match words.first().map(|w| w.to_ascii_lowercase()) {
            Some(w) if w == "porter" => Ok(Tokenizer::Porter(rd)),
            Some(w) if w == "trigram" => Ok(Tokenizer::Trigram(rd)),
            Some(w) if w == "unicode61" => Ok(Tokenizer::Unicode61(rd)),
            _ => Err(Error::invalid(format!(
                "the table uses the FTS5 tokenizer '{opt}', which TextVault does not support"
            ))),
        }
    }
}

/// A TextVault column name: 1.1.0's rule (non-empty, alphanumerics and `_`), not an FTS5
/// reserved name and not the value column.
pub fn check_column(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        return Err(Error::invalid(format!("Invalid column name: {name}")));
    }
    let lower = name.to_lowercase();
    if ["rank", "rowid", "oid", "_rowid_", VALUE_REF].contains(&lower.as_str()) {
        return Err(Error::invalid(format!(
            "Invalid column name: {name} (reserved by FTS5 or TextVault)"
        )));
    }
    Ok(())
}

/// The columns and tokenizer of an FTS5 TextVault table, from its `CREATE VIRTUAL TABLE` text.
pub fn from_ddl(sql: &str) -> Result<(Vec<String>, Tokenizer)> {
    let bad = || Error::invalid(format!("not a TextVault FTS5 table: {sql}"));
    let lower = sql.to_ascii_lowercase();
    if !lower.contains("using fts5") {
        return Err(bad());
    }
    let open = sql.find('(').ok_or_else(bad)?;
    let close = sql.rfind(')').ok_or_else(bad)?;
    let mut columns = Vec::new();
    let mut tokenizer = Tokenizer::Unicode61(None);
    for part in split_args(&sql[open + 1..close]) {
        let part = part.trim();
        let pl = part.to_ascii_lowercase();
        if let Some(rest) = pl.strip_prefix("tokenize") {
            let rest = rest.trim_start();
            if let Some(v) = rest.strip_prefix('=') {
                let raw = part[part.len() - v.len()..].trim();
                let unq = raw.trim_matches(|c| c == '\'' || c == '"');
                tokenizer = Tokenizer::from_option(unq)?;
                continue;
            }
        }
        if pl.contains('=') {
            continue; // other FTS5 options (content=, prefix=, …)
        }
        let name = part.split_whitespace().next().ok_or_else(bad)?;
        let name = name.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']');
        if name.eq_ignore_ascii_case(VALUE_REF) {
            continue;
        }
        columns.push(name.to_string());
    }
    if columns.is_empty() || !lower.contains(VALUE_REF) {
        return Err(bad());
    }
    Ok((columns, tokenizer))
}

/// Splits FTS5 arguments at top-level commas (quotes respected).
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, ',') => out.push(std::mem::take(&mut cur)),
            (None, c) => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_round_trip() {
        let old = "CREATE VIRTUAL TABLE docs USING fts5(\n  title, body,\n  value_ref UNINDEXED\n)";
        let (c, t) = from_ddl(old).unwrap();
        assert_eq!(c, vec!["title", "body"]);
        assert_eq!(t, Tokenizer::Unicode61(None));
        let new = "CREATE VIRTUAL TABLE \"d\" USING fts5(\"content\", value_ref UNINDEXED, tokenize = 'trigram remove_diacritics 1')";
        let (c, t) = from_ddl(new).unwrap();
        assert_eq!(c, vec!["content"]);
        assert_eq!(t, Tokenizer::Trigram(Some(1)));
        assert!(Tokenizer::Unicode61(None).same_as(&Tokenizer::Unicode61(Some(1))));
        assert!(!Tokenizer::Unicode61(None).same_as(&Tokenizer::Porter(None)));
    }

    #[test]
    fn column_names() {
        assert!(check_column("title").is_ok());
        assert!(check_column("1st").is_ok());
        for bad in ["", "a b", "rank", "RowId", "value_ref", "x\"y", "a;b"] {
            assert!(check_column(bad).is_err(), "{bad}");
        }
    }
}
