//! The tokio driver for strata stacks.
