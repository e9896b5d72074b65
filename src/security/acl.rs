//! ACLs and the authorizer, with Kafka's StandardAuthorizer semantics.
//!
//! An [`AclBinding`] is a resource pattern (type, name, LITERAL or PREFIXED) with an access
//! control entry (principal, host, operation, ALLOW or DENY). [`Authorizer::authorize`] decides
//! one action on one resource as Kafka's `StandardAuthorizerData` does:
//!
//! - a principal listed in `super.users` may do anything;
//! - the ACLs that apply are those of the resource's exact name (LITERAL), of the `*` wildcard
//!   (LITERAL), and of every PREFIXED pattern the name starts with;
//! - of those, an entry matches when its principal is the client's or `User:*`, its host the
//!   client's address or `*`, and its operation the action's or ALL; an ALLOW of Read, Write,
//!   Delete or Alter also allows Describe, an ALLOW of AlterConfigs also DescribeConfigs (DENY
//!   entries imply nothing);
//! - any matching DENY denies; else any matching ALLOW allows; else, when some ACL applies to
//!   the resource (for anyone), the action is denied; when none does,
//!   `allow.everyone.if.no.acl.found` decides.
//!
//! [`AclBindingFilter`] matches bindings as DescribeAcls and DeleteAcls filter them (Kafka's
//! `AclBindingFilter.matches`, with the MATCH and ANY pattern types).
//!
//! Pure logic: storing the bindings is the broker's (single node) or the metadata log's
//! (cluster) work. SCRAM credentials, the other security metadata, are in [`credentials`].

pub mod credentials;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::Principal;

/// The literal resource name that matches every name of its type.
pub const WILDCARD_RESOURCE: &str = "*";
/// The one name of the CLUSTER resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The host of an entry that matches every client address.
pub const WILDCARD_HOST: &str = "*";

macro_rules! coded_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The value of a wire code; codes Kafka does not know are UNKNOWN.
            pub fn from_code(code: i8) -> $name {
                match code {
                    $($code => $name::$variant,)*
                    _ => $name::Unknown,
                }
            }

            /// Kafka's name (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }
    };
}

coded_enum!(
    /// Kafka's `ResourceType`.
    ResourceType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        User = 7, "USER";
    }
);

coded_enum!(
    /// Kafka's `PatternType`: MATCH and ANY exist only in filters.
    PatternType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Match = 2, "MATCH";
        Literal = 3, "LITERAL";
        Prefixed = 4, "PREFIXED";
    }
);

coded_enum!(
    /// Kafka's `AclOperation`: ANY exists only in filters.
    AclOperation {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        All = 2, "ALL";
        Read = 3, "READ";
        Write = 4, "WRITE";
        Create = 5, "CREATE";
        Delete = 6, "DELETE";
        Alter = 7, "ALTER";
        Describe = 8, "DESCRIBE";
        ClusterAction = 9, "CLUSTER_ACTION";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "ALTER_CONFIGS";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        CreateTokens = 13, "CREATE_TOKENS";
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
);

coded_enum!(
    /// Kafka's `AclPermissionType`: ANY exists only in filters.
    AclPermissionType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
);

impl ResourceType {
    /// The operations an ACL on this type of resource can be about (Kafka's
    /// `AclEntry.supportedOperations`), which authorized-operations fields report on.
    pub fn supported_operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Describe,
                Delete,
                Alter,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
            ResourceType::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            ResourceType::TransactionalId => &[Describe, Write],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
            ResourceType::Unknown | ResourceType::Any => &[],
        }
    }
}

/// What an ACL applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern_type: PatternType,
}

/// Who may (or may not) do what from where.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessControlEntry {
    /// `Type:name`, e.g. `User:alice`, or `User:*` for everyone.
    pub principal: String,
    /// A client address, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

/// One ACL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// Whether this binding may be created: what Kafka's broker (AclApis) and controller
    /// (AclControlManager.validateNewAcl) check. The error is INVALID_REQUEST's message.
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.pattern;
        let e = &self.entry;
        match p.resource_type {
            ResourceType::Unknown | ResourceType::Any => {
                return Err(format!("Invalid resourceType {}", p.resource_type.name()));
            }
            _ => {}
        }
        if !matches!(p.pattern_type, PatternType::Literal | PatternType::Prefixed) {
            return Err(format!("Invalid patternType {}", p.pattern_type.name()));
        }
        if matches!(e.operation, AclOperation::Unknown | AclOperation::Any) {
            return Err(format!("Invalid operation {}", e.operation.name()));
        }
        if !matches!(
            e.permission,
            AclPermissionType::Allow | AclPermissionType::Deny
        ) {
            return Err(format!("Invalid permissionType {}", e.permission.name()));
        }
        if p.resource_type == ResourceType::Cluster && p.name != CLUSTER_NAME {
            return Err(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            ));
        }
        if p.name.is_empty() {
            return Err("Invalid empty resource name".into());
        }
        if Principal::parse(&e.principal).is_none() {
            return Err(format!(
                "Could not parse principal from `{}` (no colon is found between principal type and principal name)",
                e.principal
            ));
        }
        Ok(())
    }
}

/// A filter over bindings, as DescribeAcls and DeleteAcls send it: `None` and the ANY values
/// match everything; pattern type MATCH matches the bindings that would apply to the named
/// resource (its literal name, the `*` wildcard, and prefixes of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclBindingFilter {
    pub resource_type: ResourceType,
    pub name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

impl AclBindingFilter {
    /// The filter that matches every binding.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }

    /// Why the filter cannot be used (a field of a value Kafka does not know), as Kafka's
    /// `AclControlManager.validateFilter` and the requests' validation refuse it.
    pub fn unknown_field(&self) -> Option<&'static str> {
        if self.resource_type == ResourceType::Unknown {
            Some("Unknown resourceType.")
        } else if self.pattern_type == PatternType::Unknown {
            Some("Unknown patternType.")
        } else if self.operation == AclOperation::Unknown {
            Some("Unknown operation.")
        } else if self.permission == AclPermissionType::Unknown {
            Some("Unknown permissionType.")
        } else {
            None
        }
    }

    /// Kafka's `ResourcePatternFilter.matches`.
    pub fn matches_pattern(&self, pattern: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != pattern.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != pattern.pattern_type
        {
            return false;
        }
        let Some(name) = &self.name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == pattern.pattern_type {
            return *name == pattern.name;
        }
        // MATCH: the patterns that apply to a resource of this name.
        match pattern.pattern_type {
            PatternType::Literal => *name == pattern.name || pattern.name == WILDCARD_RESOURCE,
            PatternType::Prefixed => name.starts_with(&pattern.name),
            _ => false,
        }
    }

    /// Kafka's `AccessControlEntryFilter.matches`.
    pub fn matches_entry(&self, entry: &AccessControlEntry) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| *p == entry.principal)
            && self.host.as_ref().is_none_or(|h| *h == entry.host)
            && (self.operation == AclOperation::Any || self.operation == entry.operation)
            && (self.permission == AclPermissionType::Any || self.permission == entry.permission)
    }

    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.matches_pattern(&binding.pattern) && self.matches_entry(&binding.entry)
    }
}

/// An entry as the authorizer checks it: the principal split and the host parsed once.
#[derive(Clone, Debug)]
struct Ace {
    kind: String,
    name: String,
    /// `None`: any host.
    host: Option<HostMatch>,
    operation: AclOperation,
    permission: AclPermissionType,
}

#[derive(Clone, Debug)]
enum HostMatch {
    Ip(IpAddr),
    /// Not an address: matches no client (Kafka compares it with the client's address text).
    Never,
}

impl Ace {
    fn of(entry: &AccessControlEntry) -> Ace {
        let (kind, name) = entry
            .principal
            .split_once(':')
            .unwrap_or((entry.principal.as_str(), ""));
        let host = (entry.host != WILDCARD_HOST).then(|| match entry.host.parse() {
            Ok(ip) => HostMatch::Ip(ip),
            Err(_) => HostMatch::Never,
        });
        Ace {
            kind: kind.to_string(),
            name: name.to_string(),
            host,
            operation: entry.operation,
            permission: entry.permission,
        }
    }

    /// Kafka's `StandardAuthorizerData.findResult`: None when the entry does not match the
    /// action, else whether it allows it.
    fn result(&self, principal: &Principal, host: IpAddr, op: AclOperation) -> Option<bool> {
        let wildcard = self.kind == Principal::USER && self.name == "*";
        if !wildcard && (self.kind != principal.kind || self.name != principal.name) {
            return None;
        }
        match &self.host {
            None => {}
            Some(HostMatch::Ip(ip)) if *ip == host => {}
            Some(_) => return None,
        }
        if self.operation != AclOperation::All {
            let allow = self.permission == AclPermissionType::Allow;
            let implied = match op {
                AclOperation::Describe if allow => matches!(
                    self.operation,
                    AclOperation::Describe
                        | AclOperation::Read
                        | AclOperation::Write
                        | AclOperation::Delete
                        | AclOperation::Alter
                ),
                AclOperation::DescribeConfigs if allow => matches!(
                    self.operation,
                    AclOperation::DescribeConfigs | AclOperation::AlterConfigs
                ),
                _ => self.operation == op,
            };
            if !implied {
                return None;
            }
        }
        Some(self.permission == AclPermissionType::Allow)
    }
}

/// The ACLs by resource type and name, LITERAL and PREFIXED apart, for authorizing without
/// scanning them all.
#[derive(Default)]
struct Index {
    literal: HashMap<String, Vec<Ace>>,
    prefixed: HashMap<String, Vec<Ace>>,
    /// The lengths (in bytes) of the PREFIXED names, shortest first: the prefixes of a name
    /// worth looking up.
    prefix_lengths: BTreeSet<usize>,
}

/// A set of ACLs, indexed for [`AclSet::decide`].
#[derive(Default)]
pub struct AclSet {
    all: BTreeSet<AclBinding>,
    index: HashMap<ResourceType, Index>,
}

impl AclSet {
    pub fn new(bindings: impl IntoIterator<Item = AclBinding>) -> AclSet {
        let mut set = AclSet::default();
        for b in bindings {
            set.insert(b);
        }
        set
    }

    /// Add a binding; false if it was there.
    pub fn insert(&mut self, binding: AclBinding) -> bool {
        if self.all.contains(&binding) {
            return false;
        }
        self.reindex_add(&binding);
        self.all.insert(binding);
        true
    }

    /// Remove a binding; false if it was not there.
    pub fn remove(&mut self, binding: &AclBinding) -> bool {
        if !self.all.remove(binding) {
            return false;
        }
        // Rebuild the resource's entries from what is left (removals are rare).
        let p = &binding.pattern;
        let remaining: Vec<Ace> = self
            .all
            .iter()
            .filter(|b| b.pattern == *p)
            .map(|b| Ace::of(&b.entry))
            .collect();
        if let Some(index) = self.index.get_mut(&p.resource_type) {
            let map = match p.pattern_type {
                PatternType::Prefixed => &mut index.prefixed,
                _ => &mut index.literal,
            };
            if remaining.is_empty() {
                map.remove(&p.name);
            } else {
                map.insert(p.name.clone(), remaining);
            }
            index.prefix_lengths = index.prefixed.keys().map(String::len).collect();
        }
        true
    }

    fn reindex_add(&mut self, binding: &AclBinding) {
        let p = &binding.pattern;
        let index = self.index.entry(p.resource_type).or_default();
        let ace = Ace::of(&binding.entry);
        match p.pattern_type {
            PatternType::Prefixed => {
                index.prefix_lengths.insert(p.name.len());
                index.prefixed.entry(p.name.clone()).or_default().push(ace);
            }
            _ => index.literal.entry(p.name.clone()).or_default().push(ace),
        }
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn contains(&self, binding: &AclBinding) -> bool {
        self.all.contains(binding)
    }

    /// Every binding, in a stable order.
    pub fn bindings(&self) -> impl Iterator<Item = &AclBinding> {
        self.all.iter()
    }

    /// The bindings a filter matches.
    pub fn matching(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        self.all
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect()
    }

    /// What the ACLs say of an action on a resource: Some(false) denied, Some(true) allowed,
    /// None when no ACL applies to the resource at all (the caller's default decides).
    pub fn decide(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> Option<bool> {
        let index = self.index.get(&resource_type)?;
        let mut applies = false;
        let mut allowed = false;
        // True when a DENY matched.
        let mut check = |aces: &[Ace]| -> bool {
            for ace in aces {
                applies = true;
                match ace.result(principal, host, op) {
                    Some(false) => return true,
                    Some(true) => allowed = true,
                    None => {}
                }
            }
            false
        };
        if let Some(aces) = index.literal.get(name)
            && check(aces)
        {
            return Some(false);
        }
        for &len in &index.prefix_lengths {
            if len > name.len() {
                break;
            }
            if !name.is_char_boundary(len) {
                continue;
            }
            if let Some(aces) = index.prefixed.get(&name[..len])
                && check(aces)
            {
                return Some(false);
            }
        }
        if name != WILDCARD_RESOURCE
            && let Some(aces) = index.literal.get(WILDCARD_RESOURCE)
            && check(aces)
        {
            return Some(false);
        }
        if allowed {
            Some(true)
        } else if applies {
            Some(false)
        } else {
            None
        }
    }
}

/// The authorizer of a broker: enabled by `authorizer.class.name`, with `super.users` and
/// `allow.everyone.if.no.acl.found`, over the current ACLs.
pub struct Authorizer {
    enabled: bool,
    super_users: Vec<Principal>,
    allow_if_no_acl: bool,
    acls: RwLock<AclSet>,
}

impl Authorizer {
    pub fn new(enabled: bool, super_users: Vec<Principal>, allow_if_no_acl: bool) -> Authorizer {
        Authorizer {
            enabled,
            super_users,
            allow_if_no_acl,
            acls: RwLock::new(AclSet::default()),
        }
    }

    /// The authorizer a broker config describes: `authorizer.class.name` non-empty enables it,
    /// `super.users` is a `;`-separated list of principals.
    pub fn from_config(config: &crate::config::Config) -> Authorizer {
        let enabled = config
            .get("authorizer.class.name")
            .is_some_and(|v| !v.trim().is_empty());
        let super_users = config
            .get("super.users")
            .unwrap_or("")
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| {
                let p = Principal::parse(s);
                if p.is_none() {
                    tracing::warn!("super.users: ignoring `{s}`, not a Type:name principal");
                }
                p
            })
            .collect();
        let allow = config
            .get("allow.everyone.if.no.acl.found")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Authorizer::new(enabled, super_users, allow)
    }

    /// Whether ACLs are enforced (and the ACL APIs served).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn is_super_user(&self, principal: &Principal) -> bool {
        self.super_users.iter().any(|s| s == principal)
    }

    /// Whether `principal` connecting from `host` may do `op` on the resource (always, with no
    /// authorizer configured).
    pub fn authorize(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        if !self.enabled || self.is_super_user(principal) {
            return true;
        }
        self.acls
            .read()
            .decide(principal, host, op, resource_type, name)
            .unwrap_or(self.allow_if_no_acl)
    }

    /// Whether `principal` may do `op` on some resource of a type (Kafka's
    /// `Authorizer.authorizeByResourceType`, KIP-679: an idempotent producer needs
    /// IDEMPOTENT_WRITE on the cluster or WRITE on any topic): an ALLOW on the `*` wildcard, or
    /// an ALLOW on a name that no DENY of the same or a shorter prefix covers.
    pub fn authorize_by_resource_type(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        if self.authorize(principal, host, op, resource_type, "hardcode") {
            return true;
        }
        let acls = self.acls.read();
        let mut deny_literal = BTreeSet::new();
        let mut deny_prefixed = BTreeSet::new();
        let mut allows: Vec<&ResourcePattern> = Vec::new();
        for b in acls.bindings() {
            if b.pattern.resource_type != resource_type {
                continue;
            }
            let ace = Ace::of(&b.entry);
            let host_ok = match &ace.host {
                None => true,
                Some(HostMatch::Ip(ip)) => *ip == host,
                Some(HostMatch::Never) => false,
            };
            let principal_ok = (ace.kind == principal.kind && ace.name == principal.name)
                || b.entry.principal == "User:*";
            if !host_ok || !principal_ok {
                continue;
            }
            if b.entry.operation != op && b.entry.operation != AclOperation::All {
                continue;
            }
            match (b.entry.permission, b.pattern.pattern_type) {
                (AclPermissionType::Deny, PatternType::Literal) => {
                    if b.pattern.name == WILDCARD_RESOURCE {
                        return false;
                    }
                    deny_literal.insert(b.pattern.name.as_str());
                }
                (AclPermissionType::Deny, PatternType::Prefixed) => {
                    deny_prefixed.insert(b.pattern.name.as_str());
                }
                (AclPermissionType::Allow, PatternType::Literal)
                    if b.pattern.name == WILDCARD_RESOURCE =>
                {
                    return true;
                }
                (AclPermissionType::Allow, _) => allows.push(&b.pattern),
                _ => {}
            }
        }
        allows.iter().any(|p| {
            if p.pattern_type == PatternType::Literal && deny_literal.contains(p.name.as_str()) {
                return false;
            }
            !p.name
                .char_indices()
                .map(|(i, c)| &p.name[..i + c.len_utf8()])
                .any(|prefix| deny_prefixed.contains(prefix))
        })
    }

    /// Kafka's authorized-operations bit field of a resource: bit `code` set for each
    /// operation of the resource type the principal may do.
    pub fn authorized_operations(
        &self,
        principal: &Principal,
        host: IpAddr,
        resource_type: ResourceType,
        name: &str,
    ) -> i32 {
        resource_type
            .supported_operations()
            .iter()
            .filter(|&&op| self.authorize(principal, host, op, resource_type, name))
            .fold(0i32, |bits, op| bits | (1 << op.code()))
    }

    /// Replace the ACLs.
    pub fn set_acls(&self, acls: AclSet) {
        *self.acls.write() = acls;
    }

    /// Run `f` on the current ACLs.
    pub fn with_acls<T>(&self, f: impl FnOnce(&AclSet) -> T) -> T {
        f(&self.acls.read())
    }

    /// Change the ACLs in place.
    pub fn update_acls<T>(&self, f: impl FnOnce(&mut AclSet) -> T) -> T {
        f(&mut self.acls.write())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AclOperation as Op;
    use AclPermissionType as Perm;
    use ResourceType as RT;

    fn binding(
        rt: RT,
        name: &str,
        pt: PatternType,
        principal: &str,
        host: &str,
        op: Op,
        perm: Perm,
    ) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern {
                resource_type: rt,
                name: name.into(),
                pattern_type: pt,
            },
            entry: AccessControlEntry {
                principal: principal.into(),
                host: host.into(),
                operation: op,
                permission: perm,
            },
        }
    }

    fn allow(rt: RT, name: &str, pt: PatternType, principal: &str, op: Op) -> AclBinding {
        binding(rt, name, pt, principal, "*", op, Perm::Allow)
    }

    fn deny(rt: RT, name: &str, pt: PatternType, principal: &str, op: Op) -> AclBinding {
        binding(rt, name, pt, principal, "*", op, Perm::Deny)
    }

    fn authorizer(acls: Vec<AclBinding>) -> Authorizer {
        let a = Authorizer::new(true, vec![Principal::user("admin")], false);
        a.set_acls(AclSet::new(acls));
        a
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn alice() -> Principal {
        Principal::user("alice")
    }

    fn can(a: &Authorizer, p: &Principal, op: Op, rt: RT, name: &str) -> bool {
        a.authorize(p, LOCAL, op, rt, name)
    }

    use PatternType::{Literal as LIT, Prefixed as PRE};

    #[test]
    fn disabled_authorizer_allows_everything() {
        let a = Authorizer::new(false, vec![], false);
        a.set_acls(AclSet::new([deny(RT::Topic, "*", LIT, "User:*", Op::All)]));
        assert!(can(&a, &alice(), Op::Write, RT::Topic, "t"));
    }

    #[test]
    fn no_acl_denies_unless_allow_everyone() {
        let a = authorizer(vec![]);
        assert!(!can(&a, &alice(), Op::Read, RT::Topic, "t"));
        let open = Authorizer::new(true, vec![], true);
        assert!(can(&open, &alice(), Op::Read, RT::Topic, "t"));
        // An ACL on the resource for someone else: no longer "no ACL found".
        open.set_acls(AclSet::new([allow(
            RT::Topic,
            "t",
            LIT,
            "User:bob",
            Op::Read,
        )]));
        assert!(!can(&open, &alice(), Op::Read, RT::Topic, "t"));
        assert!(can(&open, &alice(), Op::Read, RT::Topic, "u"));
        // ... and an ACL on a prefix or the wildcard applies as well.
        open.set_acls(AclSet::new([allow(
            RT::Topic,
            "t",
            PRE,
            "User:bob",
            Op::Read,
        )]));
        assert!(!can(&open, &alice(), Op::Read, RT::Topic, "tx"));
        open.set_acls(AclSet::new([allow(
            RT::Topic,
            "*",
            LIT,
            "User:bob",
            Op::Read,
        )]));
        assert!(!can(&open, &alice(), Op::Read, RT::Topic, "u"));
        assert!(can(&open, &alice(), Op::Read, RT::Group, "u"));
    }

    #[test]
    fn super_users_may_do_anything() {
        let a = authorizer(vec![deny(RT::Topic, "*", LIT, "User:*", Op::All)]);
        assert!(can(
            &a,
            &Principal::user("admin"),
            Op::Delete,
            RT::Topic,
            "t"
        ));
        assert!(!can(&a, &alice(), Op::Delete, RT::Topic, "t"));
    }

    #[test]
    fn literal_prefixed_and_wildcard_resources() {
        let a = authorizer(vec![
            allow(RT::Topic, "orders", LIT, "User:alice", Op::Read),
            allow(RT::Topic, "logs-", PRE, "User:alice", Op::Write),
            allow(RT::Group, "*", LIT, "User:alice", Op::Read),
        ]);
        let p = alice();
        assert!(can(&a, &p, Op::Read, RT::Topic, "orders"));
        assert!(!can(&a, &p, Op::Read, RT::Topic, "orders2"));
        assert!(!can(&a, &p, Op::Read, RT::Topic, "order"));
        assert!(can(&a, &p, Op::Write, RT::Topic, "logs-app"));
        assert!(can(&a, &p, Op::Write, RT::Topic, "logs-"));
        assert!(!can(&a, &p, Op::Write, RT::Topic, "logs"));
        assert!(!can(&a, &p, Op::Read, RT::Topic, "logs-app"));
        assert!(can(&a, &p, Op::Read, RT::Group, "anything"));
        // Resource types are apart: a topic ACL says nothing of a group of the same name.
        assert!(
            !can(&a, &p, Op::Read, RT::Group, "orders") || can(&a, &p, Op::Read, RT::Group, "x")
        );
        assert!(!can(&a, &p, Op::Read, RT::TransactionalId, "orders"));
    }

    #[test]
    fn principals_and_hosts() {
        let a = authorizer(vec![
            allow(RT::Topic, "t", LIT, "User:*", Op::Read),
            binding(
                RT::Topic,
                "h",
                LIT,
                "User:alice",
                "10.0.0.1",
                Op::Read,
                Perm::Allow,
            ),
            binding(
                RT::Topic,
                "v6",
                LIT,
                "User:alice",
                "::1",
                Op::Read,
                Perm::Allow,
            ),
            allow(RT::Topic, "g", LIT, "Group:ops", Op::Read),
        ]);
        assert!(can(
            &a,
            &Principal::user("anyone"),
            Op::Read,
            RT::Topic,
            "t"
        ));
        assert!(!a.authorize(&alice(), LOCAL, Op::Read, RT::Topic, "h"));
        assert!(a.authorize(
            &alice(),
            "10.0.0.1".parse().unwrap(),
            Op::Read,
            RT::Topic,
            "h"
        ));
        assert!(a.authorize(
            &alice(),
            "0:0:0:0:0:0:0:1".parse().unwrap(),
            Op::Read,
            RT::Topic,
            "v6"
        ));
        assert!(!can(&a, &Principal::user("ops"), Op::Read, RT::Topic, "g"));
        let group = Principal {
            kind: "Group".into(),
            name: "ops".into(),
        };
        assert!(can(&a, &group, Op::Read, RT::Topic, "g"));
    }

    #[test]
    fn deny_wins_over_allow_everywhere() {
        let a = authorizer(vec![
            allow(RT::Topic, "*", LIT, "User:alice", Op::All),
            deny(RT::Topic, "secret-", PRE, "User:alice", Op::Read),
            deny(RT::Topic, "hidden", LIT, "User:*", Op::All),
        ]);
        let p = alice();
        assert!(can(&a, &p, Op::Read, RT::Topic, "public"));
        assert!(!can(&a, &p, Op::Read, RT::Topic, "secret-x"));
        assert!(can(&a, &p, Op::Write, RT::Topic, "secret-x"));
        // A DENY of Read does not deny Describe.
        assert!(can(&a, &p, Op::Describe, RT::Topic, "secret-x"));
        assert!(!can(&a, &p, Op::Describe, RT::Topic, "hidden"));
    }

    #[test]
    fn implied_operations() {
        let a = authorizer(vec![
            allow(RT::Topic, "r", LIT, "User:alice", Op::Read),
            allow(RT::Topic, "w", LIT, "User:alice", Op::Write),
            allow(RT::Topic, "d", LIT, "User:alice", Op::Delete),
            allow(RT::Topic, "a", LIT, "User:alice", Op::Alter),
            allow(RT::Topic, "c", LIT, "User:alice", Op::Create),
            allow(RT::Topic, "ac", LIT, "User:alice", Op::AlterConfigs),
            allow(RT::Topic, "all", LIT, "User:alice", Op::All),
        ]);
        let p = alice();
        for t in ["r", "w", "d", "a", "all"] {
            assert!(can(&a, &p, Op::Describe, RT::Topic, t), "{t}");
        }
        assert!(!can(&a, &p, Op::Describe, RT::Topic, "c"));
        assert!(!can(&a, &p, Op::Describe, RT::Topic, "ac"));
        assert!(can(&a, &p, Op::DescribeConfigs, RT::Topic, "ac"));
        assert!(!can(&a, &p, Op::DescribeConfigs, RT::Topic, "r"));
        assert!(!can(&a, &p, Op::Write, RT::Topic, "r"));
        assert!(can(&a, &p, Op::ClusterAction, RT::Topic, "all"));
        // DENY implies nothing.
        let d = authorizer(vec![
            allow(RT::Topic, "t", LIT, "User:alice", Op::Describe),
            deny(RT::Topic, "t", LIT, "User:alice", Op::Write),
        ]);
        assert!(can(&d, &p, Op::Describe, RT::Topic, "t"));
    }

    #[test]
    fn removal_reopens_and_recloses() {
        let b = allow(RT::Topic, "t", LIT, "User:alice", Op::Read);
        let a = authorizer(vec![b.clone()]);
        assert!(can(&a, &alice(), Op::Read, RT::Topic, "t"));
        assert!(a.update_acls(|s| s.remove(&b)));
        assert!(!a.update_acls(|s| s.remove(&b)));
        assert!(!can(&a, &alice(), Op::Read, RT::Topic, "t"));
        let pre = allow(RT::Topic, "t", PRE, "User:alice", Op::Read);
        assert!(a.update_acls(|s| s.insert(pre.clone())));
        assert!(!a.update_acls(|s| s.insert(pre.clone())));
        assert!(can(&a, &alice(), Op::Read, RT::Topic, "tt"));
        a.update_acls(|s| s.remove(&pre));
        assert!(!can(&a, &alice(), Op::Read, RT::Topic, "tt"));
        a.with_acls(|s| assert!(s.is_empty()));
    }

    #[test]
    fn multibyte_names_and_prefixes() {
        let a = authorizer(vec![allow(RT::Topic, "é", PRE, "User:alice", Op::Read)]);
        assert!(can(&a, &alice(), Op::Read, RT::Topic, "éa"));
        assert!(!can(&a, &alice(), Op::Read, RT::Topic, "e"));
        let b = authorizer(vec![allow(RT::Topic, "a", PRE, "User:alice", Op::Read)]);
        assert!(!can(&b, &alice(), Op::Read, RT::Topic, "é"));
    }

    #[test]
    fn by_resource_type_as_kip_679() {
        let p = alice();
        let w = |acls| authorizer(acls).authorize_by_resource_type(&p, LOCAL, Op::Write, RT::Topic);
        assert!(!w(vec![]));
        assert!(w(vec![allow(RT::Topic, "t", LIT, "User:alice", Op::Write)]));
        assert!(w(vec![allow(RT::Topic, "*", LIT, "User:*", Op::All)]));
        assert!(!w(vec![allow(RT::Topic, "t", LIT, "User:alice", Op::Read)]));
        assert!(!w(vec![
            allow(RT::Topic, "t", LIT, "User:alice", Op::Write),
            deny(RT::Topic, "t", LIT, "User:alice", Op::Write),
        ]));
        assert!(!w(vec![
            allow(RT::Topic, "tx", PRE, "User:alice", Op::Write),
            deny(RT::Topic, "t", PRE, "User:alice", Op::Write),
        ]));
        assert!(w(vec![
            allow(RT::Topic, "t", PRE, "User:alice", Op::Write),
            deny(RT::Topic, "tx", PRE, "User:alice", Op::Write),
        ]));
        assert!(!w(vec![
            allow(RT::Topic, "t", LIT, "User:alice", Op::Write),
            deny(RT::Topic, "*", LIT, "User:alice", Op::Write),
        ]));
        let sup = authorizer(vec![deny(RT::Topic, "*", LIT, "User:*", Op::All)]);
        assert!(sup.authorize_by_resource_type(
            &Principal::user("admin"),
            LOCAL,
            Op::Write,
            RT::Topic
        ));
    }

    #[test]
    fn authorized_operations_bits() {
        let a = authorizer(vec![
            allow(RT::Topic, "t", LIT, "User:alice", Op::Read),
            allow(RT::Cluster, CLUSTER_NAME, LIT, "User:alice", Op::All),
        ]);
        let bits = a.authorized_operations(&alice(), LOCAL, RT::Topic, "t");
        assert_eq!(bits, (1 << 3) | (1 << 8)); // READ, DESCRIBE (implied)
        let cluster = a.authorized_operations(&alice(), LOCAL, RT::Cluster, CLUSTER_NAME);
        let want = [5, 9, 10, 11, 12, 7, 8].iter().fold(0, |b, c| b | (1 << c));
        assert_eq!(cluster, want);
        let open = Authorizer::new(false, vec![], false);
        assert_eq!(
            open.authorized_operations(&alice(), LOCAL, RT::TransactionalId, "x"),
            (1 << 8) | (1 << 4)
        );
    }

    fn filter() -> AclBindingFilter {
        AclBindingFilter::any()
    }

    #[test]
    fn filters_as_kafka_matches_them() {
        let lit = allow(RT::Topic, "orders", LIT, "User:alice", Op::Read);
        let wild = allow(RT::Topic, "*", LIT, "User:bob", Op::Write);
        let pre = deny(RT::Topic, "ord", PRE, "User:alice", Op::Read);
        let grp = allow(RT::Group, "orders", LIT, "User:alice", Op::Read);
        let set = AclSet::new([lit.clone(), wild.clone(), pre.clone(), grp.clone()]);
        assert_eq!(set.matching(&filter()).len(), 4);
        let by_type = AclBindingFilter {
            resource_type: RT::Topic,
            ..filter()
        };
        assert_eq!(set.matching(&by_type).len(), 3);
        // LITERAL with a name: exactly that literal pattern.
        let exact = AclBindingFilter {
            resource_type: RT::Topic,
            name: Some("orders".into()),
            pattern_type: LIT,
            ..filter()
        };
        assert_eq!(set.matching(&exact), vec![lit.clone()]);
        // ANY with a name: the patterns of exactly that name, of any pattern type.
        let any_named = AclBindingFilter {
            name: Some("ord".into()),
            ..filter()
        };
        assert_eq!(set.matching(&any_named), vec![pre.clone()]);
        // MATCH: everything that applies to the topic `orders`.
        let m = AclBindingFilter {
            resource_type: RT::Topic,
            name: Some("orders".into()),
            pattern_type: PatternType::Match,
            ..filter()
        };
        let mut got = set.matching(&m);
        got.sort();
        let mut want = vec![lit.clone(), wild.clone(), pre.clone()];
        want.sort();
        assert_eq!(got, want);
        let prefixed_only = AclBindingFilter {
            pattern_type: PRE,
            ..filter()
        };
        assert_eq!(set.matching(&prefixed_only), vec![pre.clone()]);
        let entry = AclBindingFilter {
            principal: Some("User:alice".into()),
            operation: Op::Read,
            permission: Perm::Allow,
            ..filter()
        };
        let mut got = set.matching(&entry);
        got.sort();
        let mut want = vec![lit, grp];
        want.sort();
        assert_eq!(got, want);
        let host = AclBindingFilter {
            host: Some("10.0.0.1".into()),
            ..filter()
        };
        assert!(set.matching(&host).is_empty());
        assert!(
            AclBindingFilter {
                operation: Op::Unknown,
                ..filter()
            }
            .unknown_field()
            .is_some()
        );
        assert!(filter().unknown_field().is_none());
    }

    #[test]
    fn validation_of_new_bindings() {
        let ok = allow(RT::Topic, "t", LIT, "User:alice", Op::Read);
        assert!(ok.validate().is_ok());
        let mut b = ok.clone();
        b.pattern.pattern_type = PatternType::Match;
        assert!(b.validate().is_err());
        let mut b = ok.clone();
        b.pattern.resource_type = RT::Any;
        assert!(b.validate().is_err());
        let mut b = ok.clone();
        b.entry.operation = Op::Any;
        assert!(b.validate().is_err());
        let mut b = ok.clone();
        b.entry.permission = Perm::Any;
        assert!(b.validate().is_err());
        let mut b = ok.clone();
        b.pattern.name = String::new();
        assert!(b.validate().is_err());
        let mut b = ok.clone();
        b.entry.principal = "alice".into();
        assert!(b.validate().is_err());
        let c = allow(RT::Cluster, "other", LIT, "User:alice", Op::Alter);
        assert!(c.validate().unwrap_err().contains("kafka-cluster"));
        assert!(
            allow(RT::Cluster, CLUSTER_NAME, LIT, "User:a", Op::Alter)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn codes_round_trip_and_unknowns() {
        for c in 0..=7 {
            assert_eq!(ResourceType::from_code(c).code(), c);
        }
        for c in 0..=15 {
            assert_eq!(AclOperation::from_code(c).code(), c);
        }
        assert_eq!(ResourceType::from_code(42), ResourceType::Unknown);
        assert_eq!(PatternType::from_code(-1), PatternType::Unknown);
        assert_eq!(AclPermissionType::from_code(3), AclPermissionType::Allow);
        assert_eq!(AclOperation::from_code(10).name(), "DESCRIBE_CONFIGS");
    }
}
