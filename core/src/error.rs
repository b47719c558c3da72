//! The one error type of the core: a value a caller passed is not acceptable.
//!
//! Every variant names the argument ([`Field`]) so that each binding can raise its
//! host's error (`ValueError`, `TypeError`) with a message that points at the call.

use std::fmt;

/// The argument an [`Error`] is about, named as the caller spelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The session id.
    SessionId,
    /// The user id.
    UserId,
    /// The metadata object.
    Metadata,
    /// The tag list.
    Tags,
    /// The prompt template text.
    PromptTemplate,
    /// The prompt template version.
    PromptTemplateVersion,
    /// The prompt template variables object.
    PromptTemplateVariables,
    /// The free-form attributes.
    Attributes,
    /// The list of attribute aliases (conventions).
    Aliases,
}

impl Field {
    /// The snake_case name (Python, Rust).
    pub fn snake_name(self) -> &'static str {
        match self {
            Field::SessionId => "session_id",
            Field::UserId => "user_id",
            Field::Metadata => "metadata",
            Field::Tags => "tags",
            Field::PromptTemplate => "prompt_template",
            Field::PromptTemplateVersion => "prompt_template_version",
            Field::PromptTemplateVariables => "prompt_template_variables",
            Field::Attributes => "attributes",
            Field::Aliases => "aliases",
        }
    }

    /// The camelCase name (JavaScript).
    pub fn camel_name(self) -> &'static str {
        match self {
            Field::SessionId => "sessionId",
            Field::UserId => "userId",
            Field::Metadata => "metadata",
            Field::Tags => "tags",
            Field::PromptTemplate => "promptTemplate",
            Field::PromptTemplateVersion => "promptTemplateVersion",
            Field::PromptTemplateVariables => "promptTemplateVariables",
            Field::Attributes => "attributes",
            Field::Aliases => "aliases",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.snake_name())
    }
}

/// A value passed to the core was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An id or tag that is empty once surrounding whitespace is trimmed.
    #[error("{field} must be a non-empty string, got {shown}")]
    Empty {
        /// The argument.
        field: Field,
        /// The value as given, quoted.
        shown: String,
    },
    /// A value larger than its limit.
    #[error("{field} is {len} bytes, over the limit of {limit} bytes")]
    TooLong {
        /// The argument.
        field: Field,
        /// Its size in bytes (for JSON values: serialized).
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// Something that must be a JSON object is another kind of JSON value.
    #[error("{field} must be a JSON object, got {found}")]
    NotAnObject {
        /// The argument.
        field: Field,
        /// The kind of value found (`array`, `string`, ...).
        found: &'static str,
    },
    /// Text that should hold JSON does not parse.
    #[error("{field} is not valid JSON: {reason}")]
    InvalidJson {
        /// The argument.
        field: Field,
        /// What the parser said.
        reason: String,
    },
    /// A number JSON cannot represent (NaN, infinity).
    #[error("{field} holds a number JSON cannot represent: {value}")]
    NonFiniteNumber {
        /// The argument.
        field: Field,
        /// The number as text.
        value: String,
    },
    /// A free-form attribute under a key that has its own argument.
    #[error("attributes must not set {key:?}: it has its own argument")]
    ReservedKey {
        /// The key.
        key: String,
    },
    /// A free-form attribute with an empty key.
    #[error("attributes must not have an empty key")]
    EmptyKey,
    /// A free-form attribute whose list mixes value types.
    #[error("attributes[{key:?}] mixes value types in one list; OpenTelemetry lists hold one type")]
    MixedArray {
        /// The key.
        key: String,
    },
    /// An alias (convention) name nobody knows.
    #[error("unknown alias {name:?}; known aliases are {known}")]
    UnknownAlias {
        /// The name given.
        name: String,
        /// The accepted names, comma separated.
        known: &'static str,
    },
}

impl Error {
    /// The argument the error is about.
    pub fn field(&self) -> Field {
        match self {
            Error::Empty { field, .. }
            | Error::TooLong { field, .. }
            | Error::NotAnObject { field, .. }
            | Error::InvalidJson { field, .. }
            | Error::NonFiniteNumber { field, .. } => *field,
            Error::ReservedKey { .. } | Error::EmptyKey | Error::MixedArray { .. } => {
                Field::Attributes
            }
            Error::UnknownAlias { .. } => Field::Aliases,
        }
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
