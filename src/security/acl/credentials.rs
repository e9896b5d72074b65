//! SCRAM credentials as security metadata: what AlterUserScramCredentials changes and
//! DescribeUserScramCredentials shows, with the checks of Kafka's `ScramControlManager` and
//! `ScramImage.describe`. Only derived credentials are kept (salt, stored key, server key,
//! iterations), never a password: the request carries a salted password, from which the
//! stored and server keys are derived here.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::security::scram::{ScramCredential, ScramMechanism};

/// Kafka's error codes used here (kept as numbers: this layer knows no protocol crate).
pub const NONE: i16 = 0;
pub const RESOURCE_NOT_FOUND: i16 = 91;
pub const DUPLICATE_RESOURCE: i16 = 92;
pub const UNACCEPTABLE_CREDENTIAL: i16 = 93;
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

/// One stored credential, as the metadata keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl StoredCredential {
    pub fn credential(&self, mechanism: ScramMechanism) -> ScramCredential {
        ScramCredential {
            mechanism,
            salt: self.salt.clone(),
            stored_key: self.stored_key.clone(),
            server_key: self.server_key.clone(),
            iterations: self.iterations,
        }
    }

    pub fn of(c: &ScramCredential) -> StoredCredential {
        StoredCredential {
            salt: c.salt.clone(),
            stored_key: c.stored_key.clone(),
            server_key: c.server_key.clone(),
            iterations: c.iterations,
        }
    }
}

/// Every user's credentials: user → mechanism name (`SCRAM-SHA-256`) → credential.
pub type ScramCredentials = BTreeMap<String, BTreeMap<String, StoredCredential>>;

/// The credential of a user and mechanism.
pub fn lookup(
    all: &ScramCredentials,
    user: &str,
    mechanism: ScramMechanism,
) -> Option<ScramCredential> {
    all.get(user)?
        .get(mechanism.name())
        .map(|c| c.credential(mechanism))
}

/// A credential to delete (AlterUserScramCredentials' `deletions`); `mechanism` is the
/// Admin API's number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    pub name: String,
    pub mechanism: i8,
}

/// A credential to set (AlterUserScramCredentials' `upsertions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upsertion {
    pub name: String,
    pub mechanism: i8,
    pub iterations: i32,
    pub salt: Vec<u8>,
    pub salted_password: Vec<u8>,
}

/// A change to the credentials, as the metadata records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CredentialChange {
    Set {
        user: String,
        mechanism: String,
        credential: StoredCredential,
    },
    Remove {
        user: String,
        mechanism: String,
    },
}

/// One user's result: error code (0: none) and message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterResult {
    pub user: String,
    pub error_code: i16,
    pub error_message: Option<String>,
}

fn check_user_and_mechanism(user: &str, mechanism: i8) -> Result<ScramMechanism, (i16, String)> {
    if user.is_empty() {
        return Err((UNACCEPTABLE_CREDENTIAL, "Username must not be empty".into()));
    }
    ScramMechanism::from_code(mechanism)
        .ok_or_else(|| (UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism".into()))
}

/// Decide an AlterUserScramCredentials against the current credentials, as Kafka's controller
/// does: a user named twice in one request (in deletions or upsertions, whatever the
/// mechanisms) fails with DUPLICATE_RESOURCE; an empty user name or an iteration count outside
/// 4096–16384 with UNACCEPTABLE_CREDENTIAL; a deletion of a credential that does not exist
/// with RESOURCE_NOT_FOUND; an unknown mechanism with UNSUPPORTED_SASL_MECHANISM. Returns one
/// result per user and the changes to apply (all or nothing, as one metadata record).
pub fn alter(
    current: &ScramCredentials,
    deletions: &[Deletion],
    upsertions: &[Upsertion],
) -> (Vec<AlterResult>, Vec<CredentialChange>) {
    // Users in order of first appearance, each with its fate.
    let mut order: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut errors: BTreeMap<String, (i16, String)> = BTreeMap::new();
    let mut changes: BTreeMap<String, CredentialChange> = BTreeMap::new();
    let duplicate = || {
        (
            DUPLICATE_RESOURCE,
            "A user credential cannot be altered twice in the same request".to_string(),
        )
    };
    for d in deletions {
        if errors.contains_key(&d.name) {
            continue;
        }
        if !seen.insert(d.name.clone()) {
            changes.remove(&d.name);
            errors.insert(d.name.clone(), duplicate());
            continue;
        }
        order.push(d.name.clone());
        let checked = check_user_and_mechanism(&d.name, d.mechanism).and_then(|m| {
            if lookup(current, &d.name, m).is_none() {
                Err((
                    RESOURCE_NOT_FOUND,
                    "Attempt to delete a user credential that does not exist".into(),
                ))
            } else {
                Ok(m)
            }
        });
        match checked {
            Ok(m) => {
                changes.insert(
                    d.name.clone(),
                    CredentialChange::Remove {
                        user: d.name.clone(),
                        mechanism: m.name().to_string(),
                    },
                );
            }
            Err(e) => {
                errors.insert(d.name.clone(), e);
            }
        }
    }
    for u in upsertions {
        if errors.contains_key(&u.name) {
            continue;
        }
        if !seen.insert(u.name.clone()) {
            changes.remove(&u.name);
            errors.insert(u.name.clone(), duplicate());
            continue;
        }
        order.push(u.name.clone());
        let checked = check_user_and_mechanism(&u.name, u.mechanism).and_then(|m| {
            if u.iterations < ScramMechanism::MIN_ITERATIONS {
                Err((UNACCEPTABLE_CREDENTIAL, "Too few iterations".into()))
            } else if u.iterations > ScramMechanism::MAX_ITERATIONS {
                Err((UNACCEPTABLE_CREDENTIAL, "Too many iterations".into()))
            } else {
                Ok(m)
            }
        });
        match checked {
            Ok(m) => {
                let c = ScramCredential::from_salted_password(
                    m,
                    &u.salt,
                    &u.salted_password,
                    u.iterations,
                );
                changes.insert(
                    u.name.clone(),
                    CredentialChange::Set {
                        user: u.name.clone(),
                        mechanism: m.name().to_string(),
                        credential: StoredCredential::of(&c),
                    },
                );
            }
            Err(e) => {
                errors.insert(u.name.clone(), e);
            }
        }
    }
    let results = order
        .into_iter()
        .map(|user| match errors.get(&user) {
            Some((code, msg)) => AlterResult {
                user,
                error_code: *code,
                error_message: Some(msg.clone()),
            },
            None => AlterResult {
                user,
                error_code: NONE,
                error_message: None,
            },
        })
        .collect();
    (results, changes.into_values().collect())
}

/// Apply changes decided by [`alter`].
pub fn apply(all: &mut ScramCredentials, changes: &[CredentialChange]) {
    for c in changes {
        match c {
            CredentialChange::Set {
                user,
                mechanism,
                credential,
            } => {
                all.entry(user.clone())
                    .or_default()
                    .insert(mechanism.clone(), credential.clone());
            }
            CredentialChange::Remove { user, mechanism } => {
                if let Some(m) = all.get_mut(user) {
                    m.remove(mechanism);
                    if m.is_empty() {
                        all.remove(user);
                    }
                }
            }
        }
    }
}

/// One user's DescribeUserScramCredentials result: (mechanism number, iterations) pairs, or
/// an error code and message.
pub type DescribeResult = (String, Result<Vec<(i8, i32)>, (i16, String)>);

/// DescribeUserScramCredentials, as Kafka's `ScramImage.describe`: every user with a
/// credential when `users` is None or empty; else each named user once, a user named twice
/// failing with DUPLICATE_RESOURCE and one without credentials with RESOURCE_NOT_FOUND.
pub fn describe(all: &ScramCredentials, users: Option<&[String]>) -> Vec<DescribeResult> {
    let infos = |user: &str| -> Option<Vec<(i8, i32)>> {
        let m = all.get(user)?;
        let v: Vec<(i8, i32)> = ScramMechanism::ALL
            .iter()
            .filter_map(|mech| m.get(mech.name()).map(|c| (mech.code(), c.iterations)))
            .collect();
        (!v.is_empty()).then_some(v)
    };
    match users {
        None | Some([]) => all
            .keys()
            .filter_map(|u| infos(u).map(|i| (u.clone(), Ok(i))))
            .collect(),
        Some(users) => {
            let mut order: Vec<&String> = Vec::new();
            let mut count: BTreeMap<&String, usize> = BTreeMap::new();
            for u in users {
                let n = count.entry(u).or_insert(0);
                if *n == 0 {
                    order.push(u);
                }
                *n += 1;
            }
            order
                .into_iter()
                .map(|u| {
                    let r = if count[u] > 1 {
                        Err((
                            DUPLICATE_RESOURCE,
                            format!(
                                "Cannot describe SCRAM credentials for the same user twice in a single request: {u}"
                            ),
                        ))
                    } else {
                        infos(u).ok_or_else(|| {
                            (
                                RESOURCE_NOT_FOUND,
                                format!(
                                    "Attempt to describe a user credential that does not exist: {u}"
                                ),
                            )
                        })
                    };
                    (u.clone(), r)
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(name: &str, mechanism: i8, iterations: i32) -> Upsertion {
        let m = ScramMechanism::from_code(mechanism).unwrap_or(ScramMechanism::Sha256);
        Upsertion {
            name: name.into(),
            mechanism,
            iterations,
            salt: b"salt".to_vec(),
            salted_password: m.salted_password(b"pw", b"salt", 4096),
        }
    }

    fn del(name: &str, mechanism: i8) -> Deletion {
        Deletion {
            name: name.into(),
            mechanism,
        }
    }

    fn codes(results: &[AlterResult]) -> Vec<(&str, i16)> {
        results
            .iter()
            .map(|r| (r.user.as_str(), r.error_code))
            .collect()
    }

    #[test]
    fn upsert_derives_the_credential_a_password_gives() {
        let mut all = ScramCredentials::new();
        let (results, changes) = alter(&all, &[], &[up("alice", 1, 4096)]);
        assert_eq!(codes(&results), vec![("alice", NONE)]);
        apply(&mut all, &changes);
        let got = lookup(&all, "alice", ScramMechanism::Sha256).unwrap();
        let want = ScramCredential::from_password(ScramMechanism::Sha256, "pw", b"salt", 4096);
        assert_eq!(got, want);
        assert!(lookup(&all, "alice", ScramMechanism::Sha512).is_none());
        assert_eq!(
            describe(&all, None),
            vec![("alice".to_string(), Ok(vec![(1, 4096)]))]
        );
    }

    #[test]
    fn errors_as_kafka_gives_them() {
        let mut all = ScramCredentials::new();
        let (_, c) = alter(&all, &[], &[up("bob", 2, 8192)]);
        apply(&mut all, &c);
        let (results, changes) = alter(
            &all,
            &[del("bob", 1), del("carol", 2), del("dup", 1), del("dup", 2)],
            &[
                up("", 1, 4096),
                up("few", 1, 4095),
                up("many", 1, 16385),
                up("mech", 0, 4096),
                up("dup", 1, 4096),
                up("ok", 2, 16384),
                up("twice", 1, 4096),
                up("twice", 2, 4096),
            ],
        );
        let got: BTreeMap<&str, i16> = codes(&results).into_iter().collect();
        assert_eq!(got["bob"], RESOURCE_NOT_FOUND); // bob has SHA-512 only
        assert_eq!(got["carol"], RESOURCE_NOT_FOUND);
        // The first error of a user sticks (Kafka's userToError).
        assert_eq!(got["dup"], RESOURCE_NOT_FOUND);
        assert_eq!(got["twice"], DUPLICATE_RESOURCE);
        assert_eq!(got[""], UNACCEPTABLE_CREDENTIAL);
        assert_eq!(got["few"], UNACCEPTABLE_CREDENTIAL);
        assert_eq!(got["many"], UNACCEPTABLE_CREDENTIAL);
        assert_eq!(got["mech"], UNSUPPORTED_SASL_MECHANISM);
        assert_eq!(got["ok"], NONE);
        assert_eq!(results.len(), 9);
        assert_eq!(changes.len(), 1);
        // A deletion and an upsertion of one user in one request: duplicate, nothing changes.
        let (results, changes) = alter(&all, &[del("bob", 2)], &[up("bob", 1, 4096)]);
        assert_eq!(codes(&results), vec![("bob", DUPLICATE_RESOURCE)]);
        assert!(changes.is_empty());
        let (results, changes) = alter(&all, &[del("bob", 2)], &[]);
        assert_eq!(codes(&results), vec![("bob", NONE)]);
        apply(&mut all, &changes);
        assert!(all.is_empty());
    }

    #[test]
    fn describe_named_users() {
        let mut all = ScramCredentials::new();
        let (_, c) = alter(&all, &[], &[up("a", 1, 5000)]);
        apply(&mut all, &c);
        let (_, c) = alter(&all, &[], &[up("a", 2, 6000)]);
        apply(&mut all, &c);
        let users: Vec<String> = ["a", "x", "a"].iter().map(|s| s.to_string()).collect();
        let got = describe(&all, Some(&users));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "a");
        assert_eq!(got[0].1.as_ref().unwrap_err().0, DUPLICATE_RESOURCE);
        assert_eq!(got[1].1.as_ref().unwrap_err().0, RESOURCE_NOT_FOUND);
        let one = describe(&all, Some(&["a".to_string()]));
        assert_eq!(one[0].1, Ok(vec![(1, 5000), (2, 6000)]));
    }
}
