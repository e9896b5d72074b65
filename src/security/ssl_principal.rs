//! The principal of a TLS client certificate, as Kafka builds it: the certificate's subject
//! distinguished name written as Java's `X500Principal.getName()` writes it (RFC 2253, most
//! specific attribute first: `CN=client,OU=dev,O=fjord,C=NO`), then mapped through
//! `ssl.principal.mapping.rules` (Kafka's `SslPrincipalMapper`: `DEFAULT` and
//! `RULE:pattern/replacement/[LU]`, comma separated, the first rule that matches wins).
//!
//! Pure: a certificate in DER and a rule string in, names out.

use std::fmt;

use regex::{Captures, Regex};
use x509_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::x509::X509Name;

/// The subject of a DER certificate in Java's RFC 2253 form.
pub fn subject_name(cert_der: &[u8]) -> Result<String, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| format!("unreadable client certificate: {e}"))?;
    Ok(rfc2253(cert.subject()))
}

/// `X500Principal.getName()`: the relative distinguished names last to first, joined by `,`;
/// the attributes of one multi-valued name in their encoded order, joined by `+`.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|ava| attribute(&ava.attr_type().to_id_string(), ava.attr_value()))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The keywords Java's RFC 2253 form uses; any other attribute type is written as its OID.
const KEYWORDS: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// One `type=value`, as Java's `AVA.toRFC2253String`: a keyword type with a string value is
/// written escaped; an OID type, or a value of a non-string type, as `#` and the hex of the
/// value's DER encoding.
fn attribute(oid: &str, value: &Any<'_>) -> String {
    let keyword = KEYWORDS.iter().find(|(o, _)| *o == oid).map(|(_, k)| *k);
    let is_string = matches!(
        value.tag(),
        Tag::PrintableString
            | Tag::T61String
            | Tag::Ia5String
            | Tag::GeneralString
            | Tag::BmpString
            | Tag::Utf8String
    );
    let (Some(keyword), true) = (keyword, is_string) else {
        let der = value.to_der_vec().unwrap_or_default();
        let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
        return format!("{}=#{hex}", keyword.unwrap_or(oid));
    };
    // Java reads every string type's bytes as UTF-8.
    let text = String::from_utf8_lossy(value.as_bytes());
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ',' | '=' | '+' | '<' | '>' | '#' | ';' | '"' | '\\' => chars.extend(['\\', c]),
            '\0' => chars.extend(['\\', '0', '0']),
            c => chars.push(c),
        }
    }
    let blank = |c: &char| *c == ' ' || *c == '\r';
    let lead = chars.iter().take_while(|c| blank(c)).count();
    let trail = chars.len() - chars.iter().rev().take_while(|c| blank(c)).count();
    let mut out = format!("{keyword}=");
    for (i, c) in chars.into_iter().enumerate() {
        if i < lead || i >= trail.max(lead) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Parsed `ssl.principal.mapping.rules`.
#[derive(Debug)]
pub struct SslPrincipalMapper {
    rules: Vec<Rule>,
}

#[derive(Debug)]
enum Rule {
    Default,
    Replace {
        /// The pattern as written (for display and errors).
        source: String,
        /// Matches only the whole name (Java's `Matcher.matches()`).
        whole: Regex,
        /// Finds the parts to replace (Java's `String.replaceAll`).
        find: Regex,
        replacement: Vec<Piece>,
        replacement_source: String,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// A part of a replacement: literal text or a capture group.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// Kafka's rule syntax (`SslPrincipalMapper.RULE_PATTERN`): `DEFAULT`, or
/// `RULE:pattern/replacement/` with an optional `L` or `U`, where `\` escapes a `/`.
const RULE_PATTERN: &str = r"(DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?)";

impl SslPrincipalMapper {
    /// Parse a rule list as Kafka does; an error names the rule that is wrong.
    pub fn parse(rules: &str) -> Result<SslPrincipalMapper, String> {
        // Java's \s.
        const WS: &str = r"[ \t\n\x0B\x0C\r]";
        let splitter = Regex::new(&format!(r"{WS}*({RULE_PATTERN}){WS}*(,{WS}*|$)"))
            .expect("rule splitter is a valid pattern");
        let parser =
            Regex::new(&format!(r"\A(?:{RULE_PATTERN})")).expect("rule parser is a valid pattern");
        let mut out = Vec::new();
        for split in splitter.captures_iter(trim_java(rules)) {
            let rule = split.get(1).map_or("", |m| m.as_str());
            let invalid = || format!("invalid rule: `{rule}`");
            let m = parser.captures(rule).ok_or_else(invalid)?;
            let end = m.get(0).map_or(0, |m| m.end());
            if end != rule.len() {
                return Err(format!(
                    "invalid rule: `{rule}`, unmatched substring: `{}`",
                    &rule[end..]
                ));
            }
            if m.get(1).is_some() {
                out.push(Rule::Default);
            } else if let Some(pattern) = m.get(2) {
                let source = pattern.as_str().to_string();
                let bad = |e: regex::Error| format!("rule `{rule}`: pattern not supported: {e}");
                let whole = Regex::new(&format!(r"\A(?:{source})\z")).map_err(bad)?;
                let find = Regex::new(&source).map_err(bad)?;
                let replacement_source = m.get(4).map_or("", |m| m.as_str()).to_string();
                let replacement = parse_replacement(&replacement_source, &find)
                    .map_err(|e| format!("rule `{rule}`: replacement: {e}"))?;
                let case = match m.get(6).map(|m| m.as_str()) {
                    Some("L") => Case::Lower,
                    Some("U") => Case::Upper,
                    _ => Case::Keep,
                };
                out.push(Rule::Replace {
                    source,
                    whole,
                    find,
                    replacement,
                    replacement_source,
                    case,
                });
            }
            // An empty rule is ignored.
        }
        Ok(SslPrincipalMapper { rules: out })
    }

    /// The principal name of a distinguished name: the first rule that applies, or None when
    /// none does (Kafka then fails the authentication).
    pub fn name(&self, dn: &str) -> Option<String> {
        self.rules.iter().find_map(|r| r.apply(dn))
    }
}

impl Rule {
    fn apply(&self, dn: &str) -> Option<String> {
        let Rule::Replace {
            whole,
            find,
            replacement,
            case,
            ..
        } = self
        else {
            return Some(dn.to_string());
        };
        if !whole.is_match(dn) {
            return None;
        }
        let out = find.replace_all(dn, |caps: &Captures<'_>| expand(replacement, caps));
        Some(match case {
            Case::Keep => out.into_owned(),
            Case::Lower => out.to_lowercase(),
            Case::Upper => out.to_uppercase(),
        })
    }
}

fn expand(pieces: &[Piece], caps: &Captures<'_>) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => s.push_str(t),
            Piece::Group(i) => s.push_str(caps.get(*i).map_or("", |m| m.as_str())),
            Piece::Named(n) => s.push_str(caps.name(n).map_or("", |m| m.as_str())),
        }
    }
    s
}

/// Java's replacement syntax (`\x` is a literal x, `$n` a group, `${name}` a named group),
/// with Kafka's reading of a `$n` past the last group: `$12` with one group is group 1 and a
/// literal 2, and a reference to no group at all stays literal text.
fn parse_replacement(src: &str, re: &Regex) -> Result<Vec<Piece>, String> {
    let groups = re.captures_len() - 1;
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(c) => text.push(c),
                None => return Err("`\\` at the end escapes nothing".into()),
            },
            '$' => match chars.peek().copied() {
                Some('{') => {
                    chars.next();
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() => name.push(c),
                            _ => return Err("`${` without a group name and `}`".into()),
                        }
                    }
                    if !re.capture_names().flatten().any(|n| n == name) {
                        return Err(format!("no group named `{name}`"));
                    }
                    out.push(Piece::Text(std::mem::take(&mut text)));
                    out.push(Piece::Named(name));
                }
                Some(d) if d.is_ascii_digit() => {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        digits.push(d);
                        chars.next();
                    }
                    // Java reads the first digit, then each next one while the number still
                    // names a group; a first digit past the last group stays literal text, as
                    // Kafka escapes it.
                    let mut number = 0usize;
                    let mut used = 0;
                    for d in digits.chars() {
                        let n = number * 10 + d.to_digit(10).unwrap_or(0) as usize;
                        if n > groups {
                            break;
                        }
                        number = n;
                        used += 1;
                    }
                    if used == 0 {
                        text.push('$');
                        text.push_str(&digits);
                    } else {
                        out.push(Piece::Text(std::mem::take(&mut text)));
                        out.push(Piece::Group(number));
                        text.push_str(&digits[used..]);
                    }
                }
                _ => return Err("`$` is neither `$<number>` nor `${name}` (write `\\$`)".into()),
            },
            c => text.push(c),
        }
    }
    out.push(Piece::Text(text));
    out.retain(|p| *p != Piece::Text(String::new()));
    Ok(out)
}

/// Java's `String.trim()`: drops leading and trailing characters up to U+0020.
fn trim_java(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Kafka's `SslPrincipalMapper.toString()`.
impl fmt::Display for SslPrincipalMapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SslPrincipalMapper(rules = [")?;
        for (i, r) in self.rules.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            match r {
                Rule::Default => write!(f, "DEFAULT")?,
                Rule::Replace {
                    source,
                    replacement_source,
                    case,
                    ..
                } => {
                    write!(f, "RULE:{source}/{replacement_source}")?;
                    match case {
                        Case::Lower => write!(f, "/L")?,
                        Case::Upper => write!(f, "/U")?,
                        Case::Keep => {}
                    }
                }
            }
        }
        write!(f, "])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's SslPrincipalMapperTest.testValidRules / testInvalidRules.
    #[test]
    fn valid_and_invalid_rules_as_kafka() {
        for ok in [
            "DEFAULT",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
            "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
            "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
            "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
            "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
            "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
        ] {
            SslPrincipalMapper::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "default",
            "DEFAUL",
            "DEFAULT/L",
            "DEFAULT/U",
            "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
            "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
        ] {
            assert!(SslPrincipalMapper::parse(bad).is_err(), "{bad} parsed");
        }
    }

    /// Kafka's SslPrincipalMapperTest.testSslPrincipalMapper (and the documented examples).
    #[test]
    fn maps_names_as_kafka() {
        let m = SslPrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, \
             RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, \
             RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U, \
             RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, \
             DEFAULT",
        )
        .unwrap();
        let name = |dn: &str| m.name(dn).unwrap();
        assert_eq!(name("CN=Duke,OU=ServiceUsers,O=Org,C=US"), "duke");
        assert_eq!(
            name("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US"),
            "duke@sme"
        );
        assert_eq!(name("cn=duke,ou=sme,dc=mycp,dc=com"), "DUKE@SME");
        assert_eq!(name("cN=duke,OU=JavaSoft,O=Sun Microsystems"), "DUKE");
        assert_eq!(
            name("OU=JavaSoft,O=Sun Microsystems,C=US"),
            "OU=JavaSoft,O=Sun Microsystems,C=US"
        );

        // The example of Kafka's security documentation.
        let m = SslPrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,\
             RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\
             RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,\
             DEFAULT",
        )
        .unwrap();
        assert_eq!(
            m.name("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .unwrap(),
            "serviceuser"
        );
        assert_eq!(
            m.name("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .unwrap(),
            "adminuser@admin"
        );
    }

    #[test]
    fn default_keeps_the_name_and_no_matching_rule_is_none() {
        let m = SslPrincipalMapper::parse("DEFAULT").unwrap();
        assert_eq!(m.name("CN=a,O=b").unwrap(), "CN=a,O=b");
        let m = SslPrincipalMapper::parse("RULE:^CN=(.*?),O=x$/$1/").unwrap();
        assert_eq!(m.name("CN=a,O=x").unwrap(), "a");
        assert_eq!(m.name("CN=a,O=y"), None);
        assert_eq!(SslPrincipalMapper::parse("").unwrap().name("CN=a"), None);
    }

    /// Kafka's SslPrincipalMapperTest.testCommaWithWhitespace.
    #[test]
    fn escaped_commas_in_a_name() {
        let m = SslPrincipalMapper::parse(r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT").unwrap();
        assert_eq!(
            m.name(r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz").unwrap(),
            r"Tkac\, Adam"
        );
    }

    /// Kafka's SslPrincipalMapperTest.testRulesSplitting.
    #[test]
    fn splits_rules_as_kafka() {
        let shown = |rules: &str| {
            let s = SslPrincipalMapper::parse(rules).unwrap().to_string();
            s["SslPrincipalMapper(rules = ".len()..s.len() - 1].to_string()
        };
        for (expected, rules) in [
            ("[]", ""),
            ("[DEFAULT]", "DEFAULT"),
            ("[RULE:/]", "RULE://"),
            ("[RULE:/.*]", "RULE:/.*/"),
            ("[RULE:/.*/L]", "RULE:/.*/L"),
            ("[RULE:/, DEFAULT]", "RULE://,DEFAULT"),
            ("[RULE:/, DEFAULT]", "  RULE:// ,  DEFAULT  "),
            (
                "[RULE:   /     , DEFAULT]",
                "  RULE:   /     / ,  DEFAULT  ",
            ),
            (
                "[RULE:  /     /U, DEFAULT]",
                "  RULE:  /     /U   ,DEFAULT  ",
            ),
            (
                "[RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT]",
                "  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  ",
            ),
            ("[]", ",   , , ,      , , ,   "),
            ("[RULE:/, DEFAULT]", ",,RULE://,,,DEFAULT,,"),
            (
                "[RULE: /   , DEFAULT]",
                ",  , RULE: /   /    ,,,   DEFAULT, ,   ",
            ),
            (
                "[RULE:   /  /U, DEFAULT]",
                "     ,  , RULE:   /  /U    ,,  ,DEFAULT, ,",
            ),
            (r"[RULE:\/\\\(\)\n\t/\/\/]", r"RULE:\/\\\(\)\n\t/\/\//"),
            (
                r"[RULE:\**\/+/*/L, RULE:\/*\**/**]",
                r"RULE:\**\/+/*/L,RULE:\/*\**/**/",
            ),
            (
                r"[RULE:,RULE:,/,RULE:,\//U, RULE:,/RULE:,, RULE:,RULE:,/L,RULE:,/L, RULE:, DEFAULT, /DEFAULT, DEFAULT]",
                r"RULE:,RULE:,/,RULE:,\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT",
            ),
        ] {
            assert_eq!(shown(rules), expected, "rules {rules:?}");
        }
    }

    #[test]
    fn replacement_references_as_java_and_kafka() {
        let m =
            SslPrincipalMapper::parse(r"RULE:^CN=(\w+),O=(\w+)$/$2.$1 $12 $3 \$1 x$0/").unwrap();
        // $12 with two groups is group 1 then "2"; $3 names no group and stays literal; \$ is
        // a literal $; $0 is the whole match. `$$` is an error, as in Java.
        assert_eq!(m.name("CN=a,O=b").unwrap(), "b.a a2 $3 $1 xCN=a,O=b");
        let m = SslPrincipalMapper::parse(r"RULE:^CN=(?P<cn>\w+)$/${cn}!/U").unwrap();
        assert_eq!(m.name("CN=joe").unwrap(), "JOE!");
        assert!(SslPrincipalMapper::parse(r"RULE:^CN=(\w+)$/${nope}/").is_err());
        assert!(SslPrincipalMapper::parse(r"RULE:^CN=(\w+)$/$x/").is_err());
        assert!(SslPrincipalMapper::parse(r"RULE:^CN=(\w+)$/$$1/").is_err());
        // A pattern Rust's regex does not support (a back reference) is refused at start-up.
        let e = SslPrincipalMapper::parse(r"RULE:^CN=(\w)\1$/$1/").unwrap_err();
        assert!(e.contains("not supported"), "{e}");
    }

    fn cert_with(dn: rcgen::DistinguishedName) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn subject_in_java_rfc2253_form() {
        use rcgen::{DnType, DnValue};
        // openssl -subj "/C=NO/O=fjord/OU=dev/CN=client": Java prints it most specific first.
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(DnType::CountryName, "NO");
        dn.push(DnType::OrganizationName, "fjord");
        dn.push(DnType::OrganizationalUnitName, "dev");
        dn.push(DnType::CommonName, "client");
        assert_eq!(
            subject_name(&cert_with(dn)).unwrap(),
            "CN=client,OU=dev,O=fjord,C=NO"
        );

        // Escapes as Java does: , = + < > # ; " \ with a backslash, leading and trailing
        // spaces too; printable and UTF-8 strings alike.
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            DnType::OrganizationName,
            DnValue::PrintableString("Acme, Inc.".try_into().unwrap()),
        );
        dn.push(
            DnType::CommonName,
            DnValue::Utf8String(" a+b=c<d>#e;\"f\\ø ".into()),
        );
        assert_eq!(
            subject_name(&cert_with(dn)).unwrap(),
            r#"CN=\ a\+b\=c\<d\>\#e\;\"f\\ø\ ,O=Acme\, Inc."#
        );

        // An attribute without an RFC 2253 keyword (emailAddress) is its OID and the hex of
        // its DER value.
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            DnValue::Ia5String("a@b.no".try_into().unwrap()),
        );
        dn.push(DnType::CommonName, "x");
        assert_eq!(
            subject_name(&cert_with(dn)).unwrap(),
            "CN=x,1.2.840.113549.1.9.1=#16066140622e6e6f"
        );

        assert!(subject_name(b"not a certificate").is_err());
    }
}
