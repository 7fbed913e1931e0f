//! [`Operation`]: one GraphQL query or mutation as a type — its document, its variables and
//! the shape of its data — so a call cannot send variables of another operation or read an
//! answer as the wrong type. Adding an operation (the later `admin` queries and mutations,
//! for instance) is one more type in [`crate::operations`] and one more entry in
//! `operations::ALL`, which the schema test validates.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A typed GraphQL operation of the catalog. See the module docs.
pub trait Operation {
    /// The operation name in the document (sent as `operationName`).
    const NAME: &'static str;
    /// The GraphQL document (one operation plus the fragments it uses).
    const DOCUMENT: &'static str;
    /// The variables.
    type Variables: Serialize + Send + Sync;
    /// `data` of a successful answer.
    type Data: DeserializeOwned;
}
