//! The demos behind the `neurode` command, as a library so examples and
//! tests can run them too.

pub mod demos;
