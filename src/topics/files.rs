//! The topic registry's files inside partition directories: Kafka's `partition.metadata` (the
//! topic id) in every partition, and `topic.properties` (the topic's config overrides, which
//! Kafka keeps in the KRaft metadata log) in partition 0.
//!
//! Both are replaced whole (temp file, fsync, rename): a full disk leaves the old file, never a
//! half-written one.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::fs;
use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::config;
use crate::log::checkpoint::replace_file;

pub const PARTITION_METADATA: &str = "partition.metadata";
pub const TOPIC_PROPERTIES: &str = "topic.properties";

/// Kafka's `partition.metadata`: `version: 0` and the topic id in Kafka's base64 form.
pub fn write_partition_metadata(dir: &Path, id: Uuid) -> std::io::Result<()> {
    let path = dir.join(PARTITION_METADATA);
    if read_partition_metadata(dir) == Some(id) {
        return Ok(());
    }
    let text = format!(
        "version: 0\ntopic_id: {}\n",
        URL_SAFE_NO_PAD.encode(id.as_bytes())
    );
    replace_file(&path, text.as_bytes())
}

pub fn read_partition_metadata(dir: &Path) -> Option<Uuid> {
    // Read at every start for every partition: one read into a small buffer (the file is 44
    // bytes), no size query first.
    let mut buf = [0u8; 256];
    let n = fs::File::open(dir.join(PARTITION_METADATA))
        .and_then(|mut f| f.read(&mut buf))
        .ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("topic_id:"))?;
    let bytes = URL_SAFE_NO_PAD.decode(line.trim()).ok()?;
    Uuid::from_slice(&bytes).ok()
}

pub fn read_properties(path: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(path)
        .map(|t| config::parse_properties(&t))
        .unwrap_or_default()
}

pub fn write_properties(path: &Path, map: &BTreeMap<String, String>) -> std::io::Result<()> {
    let mut text = String::new();
    for (k, v) in map {
        let _ = writeln!(text, "{k}={v}");
    }
    replace_file(path, text.as_bytes())
}
