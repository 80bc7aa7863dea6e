//! Identifier newtypes. Each is validated once at the boundary so the rest of the code can
//! rely on its shape (and so ids can be logged: none of them is PII).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} is longer than {max} characters")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} has characters outside [A-Za-z0-9-_.]")]
    BadCharacters { kind: &'static str },
    #[error("{kind} must look like 3-7-7 digits, e.g. 113-1234567-1234567")]
    BadOrderId { kind: &'static str },
}

fn check_token(kind: &'static str, s: &str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > max {
        return Err(IdError::TooLong { kind, max });
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(IdError::BadCharacters { kind });
    }
    Ok(())
}

fn check_report_id(s: &str) -> Result<(), IdError> {
    let kind = "report id";
    match s.strip_prefix("rpt-") {
        Some(hex)
            if hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(())
        }
        _ if s.is_empty() => Err(IdError::Empty { kind }),
        _ => Err(IdError::BadCharacters { kind }),
    }
}

macro_rules! id_newtype {
    // `schema(...)`: the check as the OpenAPI document states it (length, pattern).
    ($(#[$doc:meta])* $name:ident, $kind:literal, schema($($schema:tt)*), $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "api", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "api", schema($($schema)*))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                let check: fn(&str) -> Result<(), IdError> = $check;
                check(&s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_newtype!(
    /// A selling partner id (merchant token), e.g. `A3TH9S8BH6GOGM`.
    SellerId, "seller id", schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]{1,64}$"), |s| check_token("seller id", s, 64)
);
id_newtype!(
    /// A data-subject request's id (access, correction, restriction, deletion), as the
    /// requester's ticket names it: asking twice is one request.
    SubjectRequestId, "request id", schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]{1,128}$"), |s| check_token("request id", s, 128)
);
id_newtype!(
    /// An audit report asked for over the API: `rpt-` and 32 hex digits, made from who asked
    /// and their idempotency key, so asking again is the same report.
    ReportId, "report id", schema(min_length = 36, max_length = 36, pattern = "^rpt-[0-9a-f]{32}$"), check_report_id
);
id_newtype!(
    /// A marketplace id, e.g. `ATVPDKIKX0DER` (amazon.com).
    MarketplaceId, "marketplace id", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9._-]{1,32}$"), |s| check_token("marketplace id", s, 32)
);
id_newtype!(
    /// A seller SKU. Amazon allows up to 40 characters.
    Sku, "sku", schema(min_length = 1, max_length = 40), |s| {
        if s.is_empty() {
            return Err(IdError::Empty { kind: "sku" });
        }
        if s.chars().count() > 40 {
            return Err(IdError::TooLong { kind: "sku", max: 40 });
        }
        Ok(())
    }
);
id_newtype!(
    /// The warehouse's id of one package of an order (Amazon's `packageClientReferenceId`):
    /// letters, digits, `-` and `_`, at most 40.
    PackageId, "package id", schema(min_length = 1, max_length = 40, pattern = "^[A-Za-z0-9_-]{1,40}$"), |s| {
        if s.is_empty() {
            return Err(IdError::Empty { kind: "package id" });
        }
        if s.len() > 40 {
            return Err(IdError::TooLong { kind: "package id", max: 40 });
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(IdError::BadCharacters { kind: "package id" });
        }
        Ok(())
    }
);
id_newtype!(
    /// Amazon's id of one line of an order.
    OrderItemId, "order item id", schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]{1,64}$"), |s| check_token("order item id", s, 64)
);
id_newtype!(
    /// An Amazon order id: three groups of 3, 7 and 7 digits.
    AmazonOrderId, "amazon order id", schema(pattern = "^[0-9]{3}-[0-9]{7}-[0-9]{7}$"), |s| {
        let groups: Vec<&str> = s.split('-').collect();
        let ok = groups.len() == 3
            && [3usize, 7, 7]
                .iter()
                .zip(&groups)
                .all(|(n, g)| g.len() == *n && g.bytes().all(|b| b.is_ascii_digit()));
        if ok { Ok(()) } else { Err(IdError::BadOrderId { kind: "amazon order id" }) }
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_must_be_3_7_7_digits() {
        assert!(AmazonOrderId::parse("113-1234567-1234567").is_ok());
        for bad in [
            "",
            "113-1234567",
            "113-123456-1234567",
            "11a-1234567-1234567",
            "113-1234567-12345678",
        ] {
            assert!(AmazonOrderId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seller_ids_refuse_separators_used_in_keys() {
        assert!(SellerId::parse("A3TH9S8BH6GOGM").is_ok());
        assert_eq!(
            SellerId::parse("A1#B"),
            Err(IdError::BadCharacters { kind: "seller id" })
        );
        assert_eq!(
            SellerId::parse(""),
            Err(IdError::Empty { kind: "seller id" })
        );
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: Result<SellerId, _> = serde_json::from_str("\"A1\"");
        assert!(ok.is_ok());
        let bad: Result<AmazonOrderId, _> = serde_json::from_str("\"nope\"");
        assert!(bad.is_err());
    }
}
