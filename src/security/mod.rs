//! Who a client is and what it may do: principals, SASL mechanisms, ACLs.
//!
//! Pure logic over bytes and strings: it knows neither the wire protocol nor the storage.
//! The connection layer (`server`) runs TLS and the SASL exchange and hands the resulting
//! [`Principal`] to every request; `api` asks the authorizer before acting.

pub mod acl;
pub mod jaas;
pub mod sasl;
pub mod scram;
pub mod ssl_principal;

use std::fmt;

/// A Kafka principal: type and name, written `User:alice`. A client on a PLAINTEXT listener is
/// `User:ANONYMOUS`, as in Kafka; SASL gives `User:<username>`, a TLS client certificate
/// `User:<mapped distinguished name>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    pub kind: String,
    pub name: String,
}

impl Principal {
    pub const USER: &'static str = "User";

    pub fn user(name: impl Into<String>) -> Principal {
        Principal {
            kind: Self::USER.to_string(),
            name: name.into(),
        }
    }

    /// Kafka's principal of an unauthenticated connection.
    pub fn anonymous() -> Principal {
        Principal::user("ANONYMOUS")
    }

    /// `Type:name` as kafka-acls.sh writes it; the name may itself hold colons
    /// (`User:CN=a,O=b`).
    pub fn parse(s: &str) -> Option<Principal> {
        let (kind, name) = s.split_once(':')?;
        if kind.is_empty() {
            return None;
        }
        Some(Principal {
            kind: kind.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_round_trips_with_colons_in_the_name() {
        let p = Principal::parse("User:CN=client,O=fjord").unwrap();
        assert_eq!(p.kind, "User");
        assert_eq!(p.name, "CN=client,O=fjord");
        assert_eq!(p.to_string(), "User:CN=client,O=fjord");
        assert_eq!(Principal::anonymous().to_string(), "User:ANONYMOUS");
        assert!(Principal::parse("nocolon").is_none());
        assert!(Principal::parse(":x").is_none());
    }
}
