//! Share-group membership as the broker composes it (KIP-932): the group coordinator's state
//! machine with the settings that come from group configs (`share.session.timeout.ms`,
//! `share.heartbeat.interval.ms`, falling back to the broker's `group.share.*` keys).
//!
//! **Must never:** decide membership itself (that is `group::share`); touch share-partition
//! state (that composition comes with ShareFetch and DeleteGroups' share-state deletion).

use super::Broker;
use crate::config::group::effective_value;
use crate::group::consumer::HeartbeatResult;
use crate::group::share::{ShareGroupSettings, ShareHeartbeat};

impl Broker {
    /// The heartbeat settings of share group `group_id`, and the heartbeat interval its members
    /// are told.
    pub fn share_group_settings(&self, group_id: &str) -> (ShareGroupSettings, i32) {
        let configs = self.group_configs_of(group_id);
        let value = |name: &str, default: i32| {
            effective_value(&self.config, &configs, name)
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or(default)
        };
        let share = &self.config.share;
        let settings = ShareGroupSettings {
            session_timeout_ms: value("share.session.timeout.ms", share.session_timeout_ms),
            max_size: share.max_size,
        };
        let interval = value("share.heartbeat.interval.ms", share.heartbeat_interval_ms);
        (settings, interval)
    }

    /// ShareGroupHeartbeat (after authorization): the answer and the heartbeat interval.
    pub fn share_group_heartbeat(
        &self,
        group_id: &str,
        req: ShareHeartbeat,
    ) -> (HeartbeatResult, i32) {
        let (settings, interval) = self.share_group_settings(group_id);
        let result =
            self.groups
                .share_heartbeat(&self.topics, group_id, req, settings, self.now_ms());
        (result, interval)
    }
}
