//! Where a broker keeps its security metadata (the ACLs its authorizer enforces, the SCRAM
//! credentials logins are checked against), and the single broker's changes to them: in its
//! log dir (`acls.json`, `scram-credentials.json`), written atomically before a change is
//! visible and reloaded at start. A cluster node's copy follows the metadata image instead
//! (see `security.rs`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use kafka_protocol::ResponseError as E;
use parking_lot::{Mutex, RwLock};

use crate::cluster::controller::ApiError;
use crate::config::Config;
use crate::security::acl::credentials::{
    self, AlterResult, Deletion, DescribeResult, ScramCredentials, Upsertion,
};
use crate::security::acl::{AclBinding, AclBindingFilter, AclSet, Authorizer};
use crate::security::scram::{ScramCredential, ScramMechanism};

const ACLS_FILE: &str = "acls.json";
const SCRAM_FILE: &str = "scram-credentials.json";

pub struct SecurityMetadata {
    pub authorizer: Authorizer,
    credentials: RwLock<ScramCredentials>,
    /// The single broker's log dir; `None` in a cluster (the metadata log keeps them).
    dir: Option<PathBuf>,
    /// One change at a time on a single broker (file, then memory).
    write: Mutex<()>,
}

impl SecurityMetadata {
    /// A single broker's: loaded from its log dir. Unreadable files are an error: starting
    /// without its ACLs would open what they close.
    pub fn open(config: &Config, dir: &Path) -> Result<SecurityMetadata, String> {
        let acls: Vec<AclBinding> = load(&dir.join(ACLS_FILE))?.unwrap_or_default();
        let credentials: ScramCredentials = load(&dir.join(SCRAM_FILE))?.unwrap_or_default();
        let authorizer = Authorizer::from_config(config);
        authorizer.set_acls(AclSet::new(acls));
        Ok(SecurityMetadata {
            authorizer,
            credentials: RwLock::new(credentials),
            dir: Some(dir.to_path_buf()),
            write: Mutex::new(()),
        })
    }

    /// A cluster node's: empty until it follows the image.
    pub fn for_cluster(config: &Config) -> SecurityMetadata {
        SecurityMetadata {
            authorizer: Authorizer::from_config(config),
            credentials: RwLock::new(ScramCredentials::new()),
            dir: None,
            write: Mutex::new(()),
        }
    }
}

fn load<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Write `value` to `path` atomically: a temporary file, synced, renamed over it (a full disk
/// leaves the old file and no temp file).
fn store<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), ApiError> {
    let write = || -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
        crate::log::checkpoint::replace_file(path, &bytes)
    };
    write().map_err(|e| {
        ApiError::new(
            E::KafkaStorageError,
            format!("storing {}: {e}", path.display()),
        )
    })
}

impl SecurityMetadata {
    fn path(&self, file: &str) -> Result<PathBuf, ApiError> {
        self.dir.as_ref().map(|d| d.join(file)).ok_or_else(|| {
            ApiError::new(
                E::UnknownServerError,
                "a cluster node's ACLs are the cluster's",
            )
        })
    }

    pub fn credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        credentials::lookup(&self.credentials.read(), user, mechanism)
    }

    pub fn describe_credentials(&self, users: Option<&[String]>) -> Vec<DescribeResult> {
        credentials::describe(&self.credentials.read(), users)
    }

    /// CreateAcls on a single broker: each binding validated (INVALID_REQUEST), the new ones
    /// stored, then enforced.
    pub fn create_acls(&self, bindings: Vec<AclBinding>) -> Vec<Result<(), ApiError>> {
        let _one = self.write.lock();
        let mut all: BTreeSet<AclBinding> = self
            .authorizer
            .with_acls(|s| s.bindings().cloned().collect());
        let mut added = Vec::new();
        let mut results: Vec<Result<(), ApiError>> = bindings
            .into_iter()
            .map(|b| {
                b.validate()
                    .map_err(|why| ApiError::new(E::InvalidRequest, why))?;
                if all.insert(b.clone()) {
                    added.push(b);
                }
                Ok(())
            })
            .collect();
        if added.is_empty() {
            return results;
        }
        if let Err(e) = self.path(ACLS_FILE).and_then(|p| store(&p, &all)) {
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(e.clone());
            }
            return results;
        }
        self.authorizer.update_acls(|s| {
            for b in added {
                s.insert(b);
            }
        });
        results
    }

    /// DeleteAcls on a single broker: the bindings each filter matches (a filter with an
    /// UNKNOWN field is INVALID_REQUEST), all removed and stored at once.
    pub fn delete_acls(
        &self,
        filters: Vec<AclBindingFilter>,
    ) -> Vec<Result<Vec<AclBinding>, ApiError>> {
        let _one = self.write.lock();
        let mut deleted: BTreeSet<AclBinding> = BTreeSet::new();
        let mut results: Vec<Result<Vec<AclBinding>, ApiError>> = self.authorizer.with_acls(|s| {
            filters
                .iter()
                .map(|f| {
                    if let Some(why) = f.unknown_field() {
                        return Err(ApiError::new(E::InvalidRequest, why));
                    }
                    let matched = s.matching(f);
                    deleted.extend(matched.iter().cloned());
                    Ok(matched)
                })
                .collect()
        });
        if deleted.is_empty() {
            return results;
        }
        let remaining: Vec<AclBinding> = self.authorizer.with_acls(|s| {
            s.bindings()
                .filter(|b| !deleted.contains(b))
                .cloned()
                .collect()
        });
        if let Err(e) = self.path(ACLS_FILE).and_then(|p| store(&p, &remaining)) {
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(e.clone());
            }
            return results;
        }
        self.authorizer.update_acls(|s| {
            for b in &deleted {
                s.remove(b);
            }
        });
        results
    }

    /// AlterUserScramCredentials on a single broker.
    pub fn alter_credentials(
        &self,
        deletions: &[Deletion],
        upsertions: &[Upsertion],
    ) -> Result<Vec<AlterResult>, ApiError> {
        let _one = self.write.lock();
        let mut next = self.credentials.read().clone();
        let (results, changes) = credentials::alter(&next, deletions, upsertions);
        if !changes.is_empty() {
            credentials::apply(&mut next, &changes);
            store(&self.path(SCRAM_FILE)?, &next)?;
            *self.credentials.write() = next;
        }
        Ok(results)
    }

    /// Take a metadata image's ACLs and credentials, when they differ from these.
    pub fn follow(&self, acls: &BTreeSet<AclBinding>, scram: &ScramCredentials) {
        let same_acls = self
            .authorizer
            .with_acls(|s| s.len() == acls.len() && s.bindings().eq(acls.iter()));
        if !same_acls {
            self.authorizer.set_acls(AclSet::new(acls.iter().cloned()));
            tracing::info!(acls = acls.len(), "ACLs changed (from the cluster)");
        }
        if *self.credentials.read() != *scram {
            *self.credentials.write() = scram.clone();
        }
    }
}
