//! Core errors into Python exceptions: a local extension trait, because
//! `impl From<core::Error> for PyErr` would break the orphan rule.

use openinference_session::Error;
use pyo3::PyErr;
use pyo3::exceptions::PyValueError;

/// Converts a core result into a `PyResult`, the core's message becoming the
/// `ValueError`'s (it already names the argument).
pub(crate) trait CoreResultExt<T> {
    fn into_py_err(self) -> Result<T, PyErr>;
}

impl<T> CoreResultExt<T> for Result<T, Error> {
    fn into_py_err(self) -> Result<T, PyErr> {
        self.map_err(|e| PyValueError::new_err(e.to_string()))
    }
}
