//! The key tables of docs/configuration.md, rendered from the key tables themselves (a unit
//! test in [`super`] keeps the doc in step).

use super::broker::{BROKER_KEYS, Config, IGNORED_KEYS};
use super::group::{GROUP_KEYS, group_default};
use super::topic::TOPIC_KEYS;

/// The key tables, rendered from [`BROKER_KEYS`],
/// [`IGNORED_KEYS`] and [`TOPIC_KEYS`] (a unit test keeps the doc in step).
pub fn markdown_tables() -> String {
    let mut s = String::from(
        "| key | type | default | what fjord does with it |\n| --- | --- | --- | --- |\n",
    );
    for k in BROKER_KEYS {
        s.push_str(&format!(
            "| `{}` | {:?} | `{}` | {} |\n",
            k.name,
            k.kind,
            k.default.unwrap_or("(none)"),
            k.doc
        ));
    }
    s.push_str("\nAccepted without effect (meaningless for a single fjord broker): ");
    let ignored: Vec<String> = IGNORED_KEYS.iter().map(|k| format!("`{k}`")).collect();
    s.push_str(&ignored.join(", "));
    s.push_str(".\n\nTopic keys:\n\n| key | type | broker synonym | default |\n| --- | --- | --- | --- |\n");
    for k in TOPIC_KEYS {
        s.push_str(&format!(
            "| `{}` | {:?} | {} | `{}` |\n",
            k.name,
            k.kind,
            k.broker_synonym
                .map(|b| format!("`{b}`"))
                .unwrap_or_else(|| "—".into()),
            k.default
        ));
    }
    // Group keys default from broker keys: shown with the broker's defaults.
    if let Ok((broker, _)) = Config::from_sources(None, Vec::new(), &[]) {
        s.push_str("\nGroup keys (`kafka-configs.sh --entity-type groups`):\n\n| key | type | default | what it is |\n| --- | --- | --- | --- |\n");
        for k in GROUP_KEYS {
            s.push_str(&format!(
                "| `{}` | {:?} | `{}` | {} |\n",
                k.name,
                k.kind,
                group_default(&broker, k.name).unwrap_or_default(),
                k.doc
            ));
        }
    }
    s
}
