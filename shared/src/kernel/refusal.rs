//! Why a JSON document was refused, in words that cannot carry what it said: serde_json's
//! message with every quoted and back-quoted value blanked, the names of our own fields kept,
//! and where it broke. The one text every refusal (queue messages, Amazon's bodies, CloudTrail
//! records) gives for a document that does not read.

/// `invalid type: string "…", expected u32 at line 1 column 30`; `missing field `order_id``.
pub fn serde_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = if e.line() > 0 {
        format!(" at line {} column {}", e.line(), e.column())
    } else {
        String::new()
    };
    if matches!(
        e.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return format!("invalid JSON{at}");
    }
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or_default();
    format!("{}{at}", blank_values(text))
}

/// Every `"…"` and `` `…` `` segment blanked, but for the field named after `missing field`
/// or `unknown field` (a key, not a value).
fn blank_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<char> = None;
    let mut keep = false;
    for c in text.chars() {
        match open {
            None if c == '"' || c == '`' => {
                keep = c == '`'
                    && (out.ends_with("missing field ") || out.ends_with("unknown field "));
                open = Some(c);
                out.push(c);
                if !keep {
                    out.push('…');
                }
            }
            Some(q) if c == q => {
                open = None;
                out.push(c);
            }
            Some(_) if !keep => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Request {
        order_id: String,
        quantity: u32,
        scope: Scope,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Scope {
        Order,
    }

    fn reason(json: &str) -> String {
        serde_reason(&serde_json::from_str::<Request>(json).unwrap_err())
    }

    #[test]
    fn names_fields_and_places_never_values() {
        let r = reason(r#"{"order_id": "1", "quantity": "Marisol Quintero", "scope": "order"}"#);
        assert!(
            r.starts_with("invalid type: string \"…\", expected u32 at line 1"),
            "{r}"
        );
        let r = reason(r#"{"order_id": "1", "quantity": 1, "scope": "Marisol Quintero"}"#);
        assert!(r.starts_with("unknown variant `…`"), "{r}");
        assert!(!r.contains("Marisol"), "{r}");
        let r = reason(r#"{"order_id": "1", "quantity": 1}"#);
        assert!(r.starts_with("missing field `scope`"), "{r}");
        let r = reason(r#"{"order_id": "1", "quantity": 1, "scope": "order", "buyer": "x"}"#);
        assert!(r.starts_with("unknown field `buyer`"), "{r}");
        assert!(!r.contains("\"x\""), "{r}");
        assert_eq!(
            reason(r#"{"order_id": "Marisol"#),
            "invalid JSON at line 1 column 21"
        );
    }
}
