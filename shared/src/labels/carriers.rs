//! Amazon's carrier codes for own-carrier shipment confirmations. A confirmation under a code
//! Amazon does not know, or `Other` naming a carrier Amazon does know, is not valid tracking
//! (it counts against the seller's Valid Tracking Rate), so a code is taken from this list or
//! refused, never sent as free text.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One list, read by the suite and by the simulator that stands in for Amazon.
const CARRIER_CODES: &str = include_str!("carrier-codes.txt");

fn codes() -> impl Iterator<Item = &'static str> {
    CARRIER_CODES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// A carrier as Amazon's `confirmShipment` takes it: a code from Amazon's list, or `Other`
/// with the name of a carrier the list does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub code: String,
    /// Only with `Other`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
}

impl Carrier {
    /// `code` checked against Amazon's list (exactly as spelt there); the reason names the
    /// field.
    pub fn parse(code: &str, name: Option<&str>) -> Result<Self, String> {
        let Some(known) = codes().find(|c| *c == code) else {
            let hint = codes()
                .find(|c| c.eq_ignore_ascii_case(code))
                .map(|c| format!(" (Amazon spells it {c:?})"))
                .unwrap_or_default();
            return Err(format!(
                "carrier_code: {code:?} is not one of Amazon's carrier codes{hint}"
            ));
        };
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        match (known, name) {
            ("Other", None) => Err("carrier_name: required when carrier_code is Other".into()),
            ("Other", Some(n)) => {
                match codes().find(|c| *c != "Other" && c.eq_ignore_ascii_case(n)) {
                    // Amazon treats an integrated carrier sent as Other as invalid tracking.
                    Some(c) => Err(format!(
                        "carrier_name: {n:?} has its own carrier code {c:?}; send that instead of Other"
                    )),
                    None => Ok(Self {
                        code: known.into(),
                        name: Some(n.into()),
                    }),
                }
            }
            (_, Some(_)) => Err(format!(
                "carrier_name: only with carrier_code Other ({known} is Amazon's own code)"
            )),
            (_, None) => Ok(Self {
                code: known.into(),
                name: None,
            }),
        }
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "Other ({n})"),
            None => f.write_str(&self.code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carrier_is_one_of_amazons_codes_or_refused_by_field() {
        assert_eq!(Carrier::parse("UPS", None).unwrap().code, "UPS");
        assert!(Carrier::parse("FedEx", None).is_ok());
        let typo = Carrier::parse("Fedex", None).unwrap_err();
        assert!(typo.contains("Amazon spells it \"FedEx\""), "{typo}");
        assert!(
            Carrier::parse("Speedy Parcels", None)
                .unwrap_err()
                .starts_with("carrier_code:")
        );
        assert!(
            Carrier::parse("Other", None)
                .unwrap_err()
                .starts_with("carrier_name:")
        );
        assert!(
            Carrier::parse("Other", Some("ups"))
                .unwrap_err()
                .contains("its own carrier code \"UPS\"")
        );
        let local = Carrier::parse("Other", Some("Reno Couriers")).unwrap();
        assert_eq!(local.name.as_deref(), Some("Reno Couriers"));
        assert!(Carrier::parse("UPS", Some("UPS")).is_err());
    }
}
