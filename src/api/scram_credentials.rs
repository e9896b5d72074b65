//! DescribeUserScramCredentials (key 50) and AlterUserScramCredentials (key 51), v0: what
//! `kafka-configs.sh --entity-type users` uses for SCRAM-SHA-256/512 credentials. DESCRIBE on
//! the cluster to describe, ALTER to alter (else CLUSTER_AUTHORIZATION_FAILED). The client
//! sends a salt and a salted password; only the derived credential is kept.

use std::collections::BTreeSet;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;
use crate::security::acl::credentials::{Deletion, Upsertion};

pub fn describe(
    ctx: &RequestContext,
    req: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let users: Option<Vec<String>> = req
        .users
        .as_ref()
        .map(|u| u.iter().map(|u| u.name.as_str().to_string()).collect());
    if !ctx.authorize_cluster(AclOperation::Describe) {
        let code = E::ClusterAuthorizationFailed.code();
        let msg = "Cluster authorization failed.";
        let results = users
            .unwrap_or_default()
            .into_iter()
            .map(|u| {
                DescribeUserScramCredentialsResult::default()
                    .with_user(str_bytes(u))
                    .with_error_code(code)
                    .with_error_message(Some(str_bytes(msg)))
            })
            .collect();
        return DescribeUserScramCredentialsResponse::default()
            .with_error_code(code)
            .with_error_message(Some(str_bytes(msg)))
            .with_results(results);
    }
    let results = ctx
        .broker
        .describe_scram_credentials(users.as_deref())
        .into_iter()
        .map(|(user, r)| {
            let res = DescribeUserScramCredentialsResult::default().with_user(str_bytes(user));
            match r {
                Ok(infos) => res.with_credential_infos(
                    infos
                        .into_iter()
                        .map(|(m, i)| {
                            CredentialInfo::default()
                                .with_mechanism(m)
                                .with_iterations(i)
                        })
                        .collect(),
                ),
                Err((code, msg)) => res
                    .with_error_code(code)
                    .with_error_message(Some(str_bytes(msg))),
            }
        })
        .collect();
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

pub async fn alter(
    ctx: &RequestContext,
    req: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let failed = |code: i16, msg: String| {
        // One result per user named, as Kafka's error response.
        let users: BTreeSet<&str> = req
            .deletions
            .iter()
            .map(|d| d.name.as_str())
            .chain(req.upsertions.iter().map(|u| u.name.as_str()))
            .collect();
        let results = users
            .into_iter()
            .map(|u| {
                AlterUserScramCredentialsResult::default()
                    .with_user(str_bytes(u))
                    .with_error_code(code)
                    .with_error_message(Some(str_bytes(msg.clone())))
            })
            .collect();
        AlterUserScramCredentialsResponse::default().with_results(results)
    };
    if !ctx.authorize_cluster(AclOperation::Alter) {
        return failed(
            E::ClusterAuthorizationFailed.code(),
            "Cluster authorization failed.".into(),
        );
    }
    let deletions: Vec<Deletion> = req
        .deletions
        .iter()
        .map(|d| Deletion {
            name: d.name.as_str().to_string(),
            mechanism: d.mechanism,
        })
        .collect();
    let upsertions: Vec<Upsertion> = req
        .upsertions
        .iter()
        .map(|u| Upsertion {
            name: u.name.as_str().to_string(),
            mechanism: u.mechanism,
            iterations: u.iterations,
            salt: u.salt.to_vec(),
            salted_password: u.salted_password.to_vec(),
        })
        .collect();
    match ctx
        .broker
        .alter_scram_credentials(deletions, upsertions)
        .await
    {
        Ok(results) => AlterUserScramCredentialsResponse::default().with_results(
            results
                .into_iter()
                .map(|r| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(str_bytes(r.user))
                        .with_error_code(r.error_code)
                        .with_error_message(r.error_message.map(str_bytes))
                })
                .collect(),
        ),
        Err(e) => failed(e.code, e.message),
    }
}
