//! Buyer PII. Every value is wrapped in [`Pii`], whose `Debug` and `Display` print
//! `<redacted>` and which has no `Serialize`: the only way to bytes is the PII vault, which
//! seals them. So a log line, an error or a queue message cannot carry PII by accident.

use super::ids::PackageId;
use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;
use std::fmt;
use zeroize::Zeroize;

/// A piece of buyer or recipient data. Zeroized on drop.
pub struct Pii<T: Zeroize>(SecretBox<T>);

impl<T: Zeroize> Pii<T> {
    pub fn new(value: T) -> Self {
        Self(SecretBox::new(Box::new(value)))
    }

    /// The plain value. Call it only to seal the value or to hand it to the one person or
    /// printer that needs it, never to log or to put it in a message.
    pub fn expose(&self) -> &T {
        self.0.expose_secret()
    }
}

impl<T: Zeroize + Clone> Clone for Pii<T> {
    fn clone(&self) -> Self {
        Self::new(self.expose().clone())
    }
}

impl<T: Zeroize> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T: Zeroize> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de, T: Zeroize + Deserialize<'de>> Deserialize<'de> for Pii<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Pii::new)
    }
}

impl From<&str> for Pii<String> {
    fn from(s: &str) -> Self {
        Pii::new(s.to_owned())
    }
}

/// The kinds of sealed item kept per order in the pii table; [`PiiKind::key`] is the item's
/// sort key: `buyer`, `recipient`, and one `label#<package id>` per package's label document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PiiKind {
    Buyer,
    Recipient,
    /// A package's shipping label: it prints the recipient's name and address.
    Label(PackageId),
}

impl PiiKind {
    /// The kinds an order's PII from Amazon comes in.
    pub const CUSTOMER: [PiiKind; 2] = [PiiKind::Buyer, PiiKind::Recipient];

    /// The sealed item's sort key.
    pub fn key(&self) -> Cow<'static, str> {
        match self {
            PiiKind::Buyer => "buyer".into(),
            PiiKind::Recipient => "recipient".into(),
            PiiKind::Label(package) => format!("label#{package}").into(),
        }
    }

    /// The kind's name alone, for messages and metrics (no package id).
    pub fn name(&self) -> &'static str {
        match self {
            PiiKind::Buyer => "buyer",
            PiiKind::Recipient => "recipient",
            PiiKind::Label(_) => "label",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "buyer" => Some(PiiKind::Buyer),
            "recipient" => Some(PiiKind::Recipient),
            _ => s
                .strip_prefix("label#")
                .and_then(|p| PackageId::parse(p).ok())
                .map(PiiKind::Label),
        }
    }
}

impl TryFrom<String> for PiiKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        PiiKind::parse(&s).ok_or_else(|| "not a kind of sealed item".to_owned())
    }
}

impl From<PiiKind> for String {
    fn from(k: PiiKind) -> String {
        k.key().into_owned()
    }
}

/// Who bought: needed for invoices and buyer messages, never for picking.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BuyerPii {
    pub name: Option<Pii<String>>,
    pub email: Option<Pii<String>>,
    pub company_name: Option<Pii<String>>,
}

/// A delivery address, every field buyer PII: where the parcel goes, needed to print a label.
/// Field names are SP-API's (`CustomerAddress`), which the vault's sealed layout shares.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: Option<Pii<String>>,
    pub company_name: Option<Pii<String>>,
    pub address_line1: Option<Pii<String>>,
    pub address_line2: Option<Pii<String>>,
    pub address_line3: Option<Pii<String>>,
    pub city: Option<Pii<String>>,
    pub district_or_county: Option<Pii<String>>,
    pub state_or_region: Option<Pii<String>>,
    pub municipality: Option<Pii<String>>,
    pub postal_code: Option<Pii<String>>,
    pub country_code: Option<Pii<String>>,
    pub phone: Option<Pii<String>>,
    pub address_type: Option<Pii<String>>,
}

/// All PII of one order, as fetched; each part is sealed as its own item.
#[derive(Debug, Clone, Default)]
pub struct OrderPii {
    pub buyer: Option<BuyerPii>,
    pub recipient: Option<Address>,
}

impl OrderPii {
    pub fn is_empty(&self) -> bool {
        self.buyer.is_none() && self.recipient.is_none()
    }

    /// The kinds present, in sealing order.
    pub fn kinds(&self) -> Vec<PiiKind> {
        let mut kinds = Vec::new();
        if self.buyer.is_some() {
            kinds.push(PiiKind::Buyer);
        }
        if self.recipient.is_some() {
            kinds.push(PiiKind::Recipient);
        }
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let buyer = BuyerPii {
            name: Some("Harriet Q. Okafor".into()),
            email: Some("hq@example.org".into()),
            company_name: None,
        };
        let printed = format!("{buyer:?} {}", buyer.name.as_ref().unwrap());
        assert!(!printed.contains("Harriet"), "{printed}");
        assert!(!printed.contains("hq@"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn deserializes_from_plain_json_and_exposes_on_request() {
        let v: Pii<String> = serde_json::from_str("\"4821 Larkspur Ave\"").unwrap();
        assert_eq!(v.expose(), "4821 Larkspur Ave");
    }

    #[test]
    fn kinds_round_trip() {
        let label = PiiKind::Label(PackageId::parse("pkg-1").unwrap());
        for k in PiiKind::CUSTOMER.into_iter().chain([label.clone()]) {
            assert_eq!(PiiKind::parse(&k.key()), Some(k.clone()));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<PiiKind>(&json).unwrap(), k);
        }
        assert_eq!(label.key(), "label#pkg-1");
        assert_eq!(label.name(), "label");
        assert_eq!(PiiKind::parse("label"), None);
        assert_eq!(PiiKind::parse("label#"), None);
        assert_eq!(PiiKind::parse("label#no spaces"), None);
    }
}
