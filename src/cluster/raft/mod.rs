//! openraft for the metadata quorum: [`types`] (the type configuration), [`store`] (the durable
//! Raft log and vote), [`snapshot_files`] (durable snapshots), [`state_machine`] (the image
//! applied from the log), [`network`] (RPCs over the CONTROLLER listener) and [`election`] (when
//! a voter campaigns: fjord's election timer with Pre-Vote). Everything that names openraft lives
//! in `cluster/`, so a move to a later openraft touches only it.

pub mod election;
pub mod network;
pub mod snapshot_files;
pub mod state_machine;
pub mod store;
pub mod types;
