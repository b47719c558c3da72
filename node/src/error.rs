//! Core errors into napi errors: a local extension trait, because
//! `impl From<core::Error> for napi::Error` would break the orphan rule.
//!
//! The core names the argument at fault in snake_case; JavaScript callers know
//! it in camelCase (`sessionId`), so the name is swapped. The TypeScript
//! wrapper rethrows these as `TypeError`.

use openinference_session::Error;

/// The core's message with the argument named as JavaScript spells it.
pub(crate) fn message(error: &Error) -> String {
    let text = error.to_string();
    let field = error.field();
    match text.strip_prefix(field.snake_name()) {
        Some(rest) => format!("{}{rest}", field.camel_name()),
        None => text,
    }
}

/// Converts a core result into a napi result carrying the JavaScript message.
pub(crate) trait CoreResultExt<T> {
    fn into_napi(self) -> napi::Result<T>;
}

impl<T> CoreResultExt<T> for Result<T, Error> {
    fn into_napi(self) -> napi::Result<T> {
        self.map_err(|e| napi::Error::new(napi::Status::InvalidArg, message(&e)))
    }
}
