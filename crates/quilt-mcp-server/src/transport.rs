//! The two ways the server is reached: [`http`] (stateless streamable HTTP, the deployed
//! form) and [`stdio`] (one local user, for desktop clients).

pub mod http;
pub mod stdio;
