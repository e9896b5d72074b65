//! The JAAS login entries of Kafka's `sasl.jaas.config` keys:
//! `<LoginModule class> <flag> key="value" key=value … ;` — the module options are what
//! fjord reads (PLAIN's `user_<name>="<password>"`, OAUTHBEARER's `unsecuredValidator…`).

use std::collections::BTreeMap;

/// One login entry: its module class and options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JaasEntry {
    pub module: String,
    pub options: BTreeMap<String, String>,
}

impl JaasEntry {
    /// PLAIN's users: every `user_<name>` option.
    pub fn plain_users(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("user_")?, v.as_str())))
    }
}

/// Parse a `sasl.jaas.config` value. The error names the problem, never a value (values are
/// passwords).
pub fn parse(text: &str) -> Result<JaasEntry, String> {
    let mut chars = text.trim().chars().peekable();
    let word = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut w = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == ';' || c == '"' {
                break;
            }
            w.push(c);
            chars.next();
        }
        w
    };
    let module = word(&mut chars);
    if module.is_empty() {
        return Err("no login module class".into());
    }
    let flag = word(&mut chars);
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
        return Err(format!(
            "login module {module} needs a flag (required, requisite, sufficient or optional)"
        ));
    }
    let mut options = BTreeMap::new();
    loop {
        let key = word(&mut chars);
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            return Err(format!("option {key} has no value"));
        }
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut v = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => v.push(c),
                        None => return Err(format!("option {key}: unterminated quote")),
                    },
                    Some(c) => v.push(c),
                    None => return Err(format!("option {key}: unterminated quote")),
                }
            }
            v
        } else {
            word(&mut chars)
        };
        options.insert(key, value);
    }
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
    match chars.next() {
        Some(';') => {}
        _ => return Err("the login entry must end with ';'".into()),
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err("only one login module is supported".into());
    }
    Ok(JaasEntry { module, options })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_plain_entry() {
        let e = parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required
               username="admin" password="admin-secret"
               user_admin="admin-secret" user_alice="a \"quoted\" pw" debug=true;"#,
        )
        .unwrap();
        assert_eq!(
            e.module,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        let users: Vec<_> = e.plain_users().collect();
        assert_eq!(
            users,
            [("admin", "admin-secret"), ("alice", "a \"quoted\" pw")]
        );
        assert_eq!(e.options["debug"], "true");
    }

    #[test]
    fn bad_entries_name_the_problem_not_the_secret() {
        for (text, want) in [
            ("", "no login module"),
            ("M", "needs a flag"),
            ("M required user_a=\"secret", "unterminated"),
            ("M required user_a=\"secret\"", "must end with ';'"),
            ("M required a=1;  N required b=2;", "only one"),
            ("M required user_a;", "has no value"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }
}
