//! The `strata` command-line tool's library part: the demo apps it serves.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apps;
pub mod endpoints;
pub mod qlog_plot;
pub mod relay;
pub mod signals;
