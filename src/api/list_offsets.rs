//! ListOffsets (key 2), v1–v10: earliest (-2), latest (-1), max timestamp
//! (-3, v7+), earliest local (-4, v8+), earliest pending upload (-5, v9+:
//! no tiered storage, so -1), and by timestamp.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::context::RequestContext;
use super::context::log_error_code;
use crate::broker::TopicRef;
use crate::security::acl::AclOperation;

pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;
pub const MAX_TIMESTAMP: i64 = -3;
pub const EARLIEST_LOCAL: i64 = -4;
pub const EARLIEST_PENDING_UPLOAD: i64 = -5;

pub fn handle(ctx: &RequestContext, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let isolation_level = req.isolation_level;
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.as_str().to_string();
            let authorized = ctx.authorize_topic(AclOperation::Describe, &name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let resp = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    if !authorized {
                        return resp.with_error_code(E::TopicAuthorizationFailed.code());
                    }
                    let part = match ctx
                        .broker
                        .leader_partition(TopicRef::Name(&name), p.partition_index)
                    {
                        Ok(part) => part,
                        Err(code) => return resp.with_error_code(code),
                    };
                    let found = match p.timestamp {
                        // read_committed consumers see up to the last stable offset.
                        LATEST if isolation_level == 1 => {
                            Ok(Some((part.offsets().last_stable_offset, -1)))
                        }
                        LATEST => Ok(Some((part.offsets().high_watermark, -1))),
                        EARLIEST | EARLIEST_LOCAL => {
                            Ok(Some((part.offsets().log_start_offset, -1)))
                        }
                        MAX_TIMESTAMP => part.max_timestamp_offset(),
                        EARLIEST_PENDING_UPLOAD => Ok(None),
                        ts if ts >= 0 => part.offset_for_timestamp(ts),
                        _ => return resp.with_error_code(E::InvalidRequest.code()),
                    };
                    match found {
                        Ok(Some((offset, timestamp))) => {
                            let resp = resp.with_offset(offset).with_timestamp(timestamp);
                            // leader_epoch exists from v4; the codec refuses it earlier.
                            if ctx.version >= 4 {
                                resp.with_leader_epoch(part.leader_epoch())
                            } else {
                                resp
                            }
                        }
                        Ok(None) => resp,
                        Err(e) => resp.with_error_code(log_error_code(&e).code()),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}
