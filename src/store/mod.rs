//! The on-disk protocol: where every file of a job lives ([`layout`]), how a
//! part is written ([`part`]) and an output made ([`combine`]), the journal that
//! records outputs ([`journal`]), the lock that gives a job directory one owner
//! ([`lock`]), and how a directory found on disk is opened again ([`recovery`]).

pub mod combine;
pub mod direct_io;
pub mod journal;
pub mod layout;
pub mod lock;
pub mod part;
pub mod part_names;
pub mod publish_order;
pub mod recovery;
pub mod untrusted;
pub mod waiting;
