//! What the five share-state APIs (83–87, between brokers of a cluster, design §14.1) share:
//! Kafka's five requests and responses have one layout under other type names (a group,
//! topics by id, partitions; results by topic id, a partition result with its error code and
//! text), which [`StateRequest`], [`StateResponse`] and [`StateResult`] name once per API
//! ([`share_state_codec!`]), so that [`answer`] walks every request and `coordinator_writes`
//! rewrites every answer the same way.
//!
//! Owns: the per-partition walk in the request's order, ClusterAction on the cluster as Kafka's
//! `KafkaApis` checks it (a refusal fails every partition of the request), whether the
//! topic-partition exists, and what a refused partition answers.
//!
//! Never: decides a partition's answer (that is `share::coordinator`, called by each API's
//! handler).

use kafka_protocol::ResponseError as E;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::context::RequestContext;
use crate::security::acl::AclOperation;
use crate::share::StateError;
use crate::share::records::StateKey;

/// A share-state request: a group's topics, each with its partitions.
pub(super) trait StateRequest {
    type Partition;
    type Response: StateResponse;
    fn group_id(&self) -> &StrBytes;
    fn topics(&self) -> impl Iterator<Item = (Uuid, &[Self::Partition])>;
    fn partition(p: &Self::Partition) -> i32;
}

/// A share-state response: partition results by topic id.
pub(super) trait StateResponse {
    type Result: StateResult;
    fn from_topics(topics: Vec<(Uuid, Vec<Self::Result>)>) -> Self;
    fn results_mut(&mut self) -> impl Iterator<Item = &mut Self::Result>;
}

/// One partition's result in a share-state response.
pub(super) trait StateResult: Default {
    fn set_partition(&mut self, partition: i32);
    fn error_mut(&mut self) -> (&mut i16, &mut Option<StrBytes>);
    /// What a refused partition answers besides its error: the reads' state fields as they
    /// are without state (start offset -1); nothing for the writes.
    fn clear_state(&mut self) {}
}

/// Implements the three traits for one API's codec types, given as its request module and
/// type and its response module, type and per-topic result type; `refused(r) { … }` is the
/// body of [`StateResult::clear_state`] where it has one.
macro_rules! share_state_codec {
    (
        $request_mod:ident :: $request:ident,
        $response_mod:ident :: { $response:ident, $topic_result:ident }
        $(, refused($r:ident) $clear:block)? $(,)?
    ) => {
        impl $crate::api::share_state_rpcs::StateRequest
            for kafka_protocol::messages::$request_mod::$request
        {
            type Partition = kafka_protocol::messages::$request_mod::PartitionData;
            type Response = kafka_protocol::messages::$response_mod::$response;
            fn group_id(&self) -> &kafka_protocol::protocol::StrBytes {
                &self.group_id
            }
            fn topics(&self) -> impl Iterator<Item = (uuid::Uuid, &[Self::Partition])> {
                self.topics
                    .iter()
                    .map(|t| (t.topic_id, t.partitions.as_slice()))
            }
            fn partition(p: &Self::Partition) -> i32 {
                p.partition
            }
        }

        impl $crate::api::share_state_rpcs::StateResponse
            for kafka_protocol::messages::$response_mod::$response
        {
            type Result = kafka_protocol::messages::$response_mod::PartitionResult;
            fn from_topics(topics: Vec<(uuid::Uuid, Vec<Self::Result>)>) -> Self {
                let results = topics
                    .into_iter()
                    .map(|(topic_id, partitions)| {
                        kafka_protocol::messages::$response_mod::$topic_result::default()
                            .with_topic_id(topic_id)
                            .with_partitions(partitions)
                    })
                    .collect();
                Self::default().with_results(results)
            }
            fn results_mut(&mut self) -> impl Iterator<Item = &mut Self::Result> {
                self.results
                    .iter_mut()
                    .flat_map(|t| t.partitions.iter_mut())
            }
        }

        impl $crate::api::share_state_rpcs::StateResult
            for kafka_protocol::messages::$response_mod::PartitionResult
        {
            fn set_partition(&mut self, partition: i32) {
                self.partition = partition;
            }
            fn error_mut(
                &mut self,
            ) -> (&mut i16, &mut Option<kafka_protocol::protocol::StrBytes>) {
                (&mut self.error_code, &mut self.error_message)
            }
            $(
                fn clear_state(&mut self) {
                    let $r = self;
                    $clear
                }
            )?
        }
    };
}
pub(super) use share_state_codec;

/// Answers a share-state request partition by partition, in the request's order: `call` asks
/// the share coordinator for one partition (its state key, its request entry, whether the
/// topic-partition exists) and builds its result; an error becomes the partition's code and
/// text (Kafka's validation message, else the code's).
pub(super) fn answer<Q: StateRequest>(
    ctx: &RequestContext,
    req: &Q,
    call: impl Fn(
        &StateKey,
        &Q::Partition,
        bool,
    ) -> Result<<Q::Response as StateResponse>::Result, StateError>,
) -> Q::Response {
    let allowed = authorized(ctx);
    let mut topics = Vec::new();
    for (topic_id, partitions) in req.topics() {
        let mut results = Vec::with_capacity(partitions.len());
        for p in partitions {
            let partition = Q::partition(p);
            let key = StateKey {
                group: req.group_id().to_string(),
                topic_id,
                partition,
            };
            let known = known(ctx, topic_id, partition);
            let mut result = match allowed.clone().and_then(|()| call(&key, p, known)) {
                Ok(result) => result,
                Err(e) => {
                    let mut result = Default::default();
                    refuse(&mut result, e.code, e.message);
                    result
                }
            };
            result.set_partition(partition);
            results.push(result);
        }
        topics.push((topic_id, results));
    }
    Q::Response::from_topics(topics)
}

/// A refused partition: its code and text, and no state.
pub(super) fn refuse(result: &mut impl StateResult, code: i16, message: Option<&'static str>) {
    let (c, m) = result.error_mut();
    *c = code;
    *m = message.map(StrBytes::from_static_str);
    result.clear_state();
}

/// Kafka's check for all five share-state APIs: a broker's request, ClusterAction on the
/// cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
fn authorized(ctx: &RequestContext) -> Result<(), StateError> {
    if ctx.authorize_cluster(AclOperation::ClusterAction) {
        Ok(())
    } else {
        Err(StateError::new(E::ClusterAuthorizationFailed))
    }
}

/// Whether the cluster has this topic-partition (Kafka's coordinator asks its metadata image;
/// UNKNOWN_TOPIC_OR_PARTITION otherwise).
fn known(ctx: &RequestContext, topic_id: Uuid, partition: i32) -> bool {
    ctx.broker
        .topic_view_by_id(topic_id)
        .is_some_and(|t| usize::try_from(partition).is_ok_and(|p| p < t.partitions.len()))
}
