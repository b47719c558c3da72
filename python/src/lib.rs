//! `openinference.instrumentation.session._native`: the Python binding of the core.
//!
//! Thin by design: it converts Python values into core types (raising `TypeError`
//! for a wrong type and `ValueError` for a value the core refuses, both naming
//! the argument) and core values back into Python objects. The rules themselves
//! (validation, inheritance, span attributes) live in `openinference-session`;
//! the context operations live in Python, in the OpenTelemetry context.

use std::borrow::Cow;
use std::collections::HashMap;

use openinference_session::attributes::{ContextValues, JsonObject};
use openinference_session::{Aliases, ContextAttributes, keys};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

mod convert;
mod error;
mod scope;

use convert::{attribute_from_py, attribute_to_py, json_object_from_py, json_object_text_from_py};
use error::CoreResultExt;

/// Context attributes, validated: either what one scope sets or what is in
/// effect inside nested scopes. Immutable; caches its Python forms.
#[pyclass(frozen, module = "openinference.instrumentation.session._native")]
pub(crate) struct Attributes {
    inner: ContextAttributes,
    /// `context_values()`: built on first use, or given by the scope that
    /// validated these (made of the caller's own strings).
    context_values: PyOnceLock<Py<PyTuple>>,
    /// `context_updates()`, built on first use: only the Python path of a
    /// nested scope needs the dict.
    context_updates: PyOnceLock<Py<PyDict>>,
    /// The metadata as an object, for the scope cache to compare a given dict
    /// with by walking it instead of writing its text: built from the dict of
    /// the first scope found to match these by text, so only attributes that
    /// are reused pay for it.
    metadata_object: PyOnceLock<JsonObject>,
    span_attributes: [PyOnceLock<Py<PyDict>>; 8],
}

impl Attributes {
    fn wrap(inner: ContextAttributes) -> Self {
        Attributes {
            inner,
            context_values: PyOnceLock::new(),
            context_updates: PyOnceLock::new(),
            metadata_object: PyOnceLock::new(),
            span_attributes: std::array::from_fn(|_| PyOnceLock::new()),
        }
    }

    /// Wraps `inner` with its `context_values()` already made: `values` must
    /// be what [`Attributes::context_values_tuple`] would build, value for value.
    pub(crate) fn with_context_values(
        py: Python<'_>,
        inner: ContextAttributes,
        values: Bound<'_, PyTuple>,
    ) -> Self {
        let attrs = Attributes::wrap(inner);
        let _ = attrs.context_values.set(py, values.unbind());
        attrs
    }
}

/// `PyOnceLock::get_or_try_init` without its detach from the interpreter
/// (which costs more than what these caches compute). Two threads may both
/// compute the value; both results are equal and the first stored wins.
fn init_cached<'a, T>(
    cell: &'a PyOnceLock<T>,
    py: Python<'_>,
    compute: impl FnOnce() -> PyResult<T>,
) -> PyResult<&'a T> {
    if let Some(value) = cell.get(py) {
        return Ok(value);
    }
    let value = compute()?;
    let _ = cell.set(py, value);
    Ok(cell
        .get(py)
        .expect("the cell was set just above, by this thread or another"))
}

fn string_arg(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => match v.cast::<PyString>() {
            Ok(s) => Ok(Some(s.to_str()?.to_owned())),
            Err(_) => Err(PyTypeError::new_err(format!(
                "{name} must be a str, not {}",
                v.get_type().name()?
            ))),
        },
    }
}

fn tags_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let item_text = |i: usize, item: Bound<'_, PyAny>| -> PyResult<String> {
        match item.cast::<PyString>() {
            Ok(s) => Ok(s.to_str()?.to_owned()),
            Err(_) => Err(PyTypeError::new_err(format!(
                "tags[{i}] must be a str, not {}",
                item.get_type().name()?
            ))),
        }
    };
    let texts = |items: &mut dyn Iterator<Item = Bound<'_, PyAny>>| {
        items
            .enumerate()
            .map(|(i, t)| item_text(i, t))
            .collect::<PyResult<Vec<_>>>()
            .map(Some)
    };
    // lists and tuples are walked directly, without a Python iterator object
    if let Ok(list) = value.cast::<PyList>() {
        return texts(&mut list.iter());
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return texts(&mut tuple.iter());
    }
    Err(PyTypeError::new_err(format!(
        "tags must be a list of str, not {}",
        value.get_type().name()?
    )))
}

/// Whether `tags_arg` reads `value` as exactly `expected` (so the tags had no
/// duplicates to drop), found without building anything.
fn tags_match(value: &Bound<'_, PyAny>, expected: &[String]) -> bool {
    let same = |items: &mut dyn ExactSizeIterator<Item = Bound<'_, PyAny>>| {
        items.len() == expected.len()
            && items.zip(expected).all(|(item, e)| {
                item.cast::<PyString>()
                    .is_ok_and(|s| s.to_str().is_ok_and(|s| s == e))
            })
    };
    if let Ok(list) = value.cast::<PyList>() {
        return same(&mut list.iter());
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return same(&mut tuple.iter());
    }
    false
}

impl Attributes {
    /// The tuple of `context_values()`.
    pub(crate) fn context_values_tuple<'py>(&self, py: Python<'py>) -> PyResult<&Py<PyTuple>> {
        init_cached(&self.context_values, py, || {
            let mut tags_error = None;
            let slots = self.inner.to_context_values().into_slots(
                |s| Some(PyString::new(py, &s).into_any()),
                |tags| match PyList::new(py, tags) {
                    Ok(list) => Some(list.into_any()),
                    Err(e) => {
                        tags_error = Some(e);
                        None
                    }
                },
            );
            if let Some(e) = tags_error {
                return Err(e);
            }
            let items = slots
                .into_iter()
                .take(CONTEXT_KEYS.len())
                .map(Option::flatten);
            PyResult::Ok(PyTuple::new(py, items)?.unbind())
        })
    }
}

impl Attributes {
    /// The attributes of values another package left, leniently (see
    /// `from_context_values`), with `problems` found so far.
    fn read_foreign(
        py: Python<'_>,
        values: &ContextValues,
        mut problems: Vec<String>,
    ) -> PyResult<(Option<Py<Attributes>>, Vec<String>)> {
        let (attrs, errors) = ContextAttributes::from_context_values(values);
        problems.extend(errors.iter().map(ToString::to_string));
        let attrs = if attrs.is_empty() {
            None
        } else {
            Some(Py::new(py, Attributes::wrap(attrs))?)
        };
        Ok((attrs, problems))
    }
}

/// Tags another package left: OpenInference Python keeps them as a list, its
/// JS sibling as JSON text. A value of neither shape is reported.
fn foreign_tags(tags: &Bound<'_, PyAny>, problems: &mut Vec<String>) -> Option<Vec<String>> {
    if let Ok(text) = tags.cast::<PyString>() {
        let parsed = text
            .to_str()
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str::<Vec<String>>(s).map_err(|e| e.to_string()));
        return match parsed {
            Ok(list) => Some(list),
            Err(e) => {
                problems.push(format!(
                    "{} is not a JSON list of strings: {e}",
                    keys::TAG_TAGS
                ));
                None
            }
        };
    }
    match tags_arg(Some(tags)) {
        Ok(list) => list,
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    }
}

#[pymethods]
impl Attributes {
    /// Validates what one scope sets. Every argument is optional.
    #[new]
    #[pyo3(signature = (
        session_id=None, user_id=None, metadata=None, tags=None, prompt_template=None,
        prompt_template_version=None, prompt_template_variables=None, attributes=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        session_id: Option<&Bound<'_, PyAny>>,
        user_id: Option<&Bound<'_, PyAny>>,
        metadata: Option<&Bound<'_, PyAny>>,
        tags: Option<&Bound<'_, PyAny>>,
        prompt_template: Option<&Bound<'_, PyAny>>,
        prompt_template_version: Option<&Bound<'_, PyAny>>,
        prompt_template_variables: Option<&Bound<'_, PyAny>>,
        attributes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut a = ContextAttributes::new();
        if let Some(id) = string_arg(session_id, "session_id")? {
            a = a.with_session_id(id).into_py_err()?;
        }
        if let Some(id) = string_arg(user_id, "user_id")? {
            a = a.with_user_id(id).into_py_err()?;
        }
        if let Some(m) = metadata.filter(|v| !v.is_none()) {
            a = a
                .with_metadata_text(json_object_text_from_py(m, "metadata")?)
                .into_py_err()?;
        }
        if let Some(t) = tags_arg(tags)? {
            a = a.with_tags(t).into_py_err()?;
        }
        if let Some(t) = string_arg(prompt_template, "prompt_template")? {
            a = a.with_prompt_template(t).into_py_err()?;
        }
        if let Some(v) = string_arg(prompt_template_version, "prompt_template_version")? {
            a = a.with_prompt_template_version(v).into_py_err()?;
        }
        if let Some(v) = prompt_template_variables.filter(|v| !v.is_none()) {
            let object = json_object_from_py(v, "prompt_template_variables")?;
            a = a.with_prompt_template_variables(object).into_py_err()?;
        }
        if let Some(attrs) = attributes.filter(|v| !v.is_none()) {
            let dict = attrs.cast::<PyDict>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "attributes must be a dict, not {}",
                    attrs
                        .get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
            for (key, value) in dict.iter() {
                let key: String = key
                    .extract()
                    .map_err(|_| PyTypeError::new_err("attributes keys must be str"))?;
                let value = attribute_from_py(&key, &value)?;
                a = a.with_attribute(key, value).into_py_err()?;
            }
        }
        Ok(Attributes::wrap(a))
    }

    /// Validates a session id alone (cached: see `session_attributes`).
    #[staticmethod]
    fn for_session(py: Python<'_>, session_id: &Bound<'_, PyAny>) -> PyResult<Py<Attributes>> {
        scope::session_attributes(py, session_id)
    }

    /// Reads the values OpenInference (or another package) keeps under its keys
    /// in the OpenTelemetry context, given in the order of `CONTEXT_KEYS`.
    /// Lenient: returns the attributes that validate (None when nothing does)
    /// and the messages for those that do not.
    #[staticmethod]
    fn from_context_values(
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
    ) -> PyResult<(Option<Py<Attributes>>, Vec<String>)> {
        let slots: Vec<Option<Bound<'_, PyAny>>> = values
            .try_iter()?
            .take(CONTEXT_KEYS.len())
            .map(|v| v.map(|v| (!v.is_none()).then_some(v)))
            .collect::<PyResult<_>>()?;
        // Foreign values of a wrong type are reported, never raised.
        let problems = std::cell::RefCell::new(Vec::new());
        let context_values = ContextValues::from_slots(
            slots,
            |slot, v| match string_arg(Some(&v), CONTEXT_KEYS[slot]) {
                Ok(s) => s,
                Err(e) => {
                    problems.borrow_mut().push(e.to_string());
                    None
                }
            },
            |t| foreign_tags(&t, &mut problems.borrow_mut()),
        );
        Attributes::read_foreign(py, &context_values, problems.into_inner())
    }

    /// Reads the session and user ids of W3C Baggage (untrusted input): like
    /// `from_context_values`, lenient.
    #[staticmethod]
    #[pyo3(signature = (session_id=None, user_id=None))]
    fn from_baggage(
        py: Python<'_>,
        session_id: Option<&Bound<'_, PyAny>>,
        user_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Option<Py<Attributes>>, Vec<String>)> {
        let mut problems = Vec::new();
        let mut text = |v: Option<&Bound<'_, PyAny>>, name: &str| match string_arg(v, name) {
            Ok(s) => s,
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        let context_values = ContextValues {
            session_id: text(session_id, keys::BAGGAGE_SESSION_ID),
            user_id: text(user_id, keys::BAGGAGE_USER_ID),
            ..ContextValues::default()
        };
        Attributes::read_foreign(py, &context_values, problems)
    }

    /// The attributes in effect inside `scope` opened within these.
    fn with_scope(&self, scope: &Attributes) -> Attributes {
        Attributes::wrap(self.inner.with_scope(&scope.inner))
    }

    /// The values for OpenInference's context keys, in the order of
    /// `CONTEXT_KEYS` (None where unset). Cached: the same tuple every call.
    fn context_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        Ok(self.context_values_tuple(py)?.bind(py).clone())
    }

    /// The set values of `context_values()` by key: what a scope writes into
    /// the context. Cached and shared: callers must not mutate the dict.
    fn context_updates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let updates = init_cached(&self.context_updates, py, || {
            let values = self.context_values_tuple(py)?.bind(py);
            let updates = PyDict::new(py);
            for (key, value) in context_keys(py).iter().zip(values.iter()) {
                if !value.is_none() {
                    updates.set_item(key.bind(py), value)?;
                }
            }
            PyResult::Ok(updates.unbind())
        })?;
        Ok(updates.bind(py).clone())
    }

    /// The span attributes these stamp, with the alias set `aliases` (bits from
    /// `parse_aliases`). Cached and shared: callers must not mutate the dict.
    #[pyo3(signature = (aliases=0))]
    fn span_attributes<'py>(&self, py: Python<'py>, aliases: u8) -> PyResult<Bound<'py, PyDict>> {
        let slot = self
            .span_attributes
            .get(usize::from(aliases))
            .ok_or_else(|| {
                PyValueError::new_err(format!("aliases must be 0..=7, got {aliases}"))
            })?;
        let dict = init_cached(slot, py, || {
            let dict = PyDict::new(py);
            for (key, value) in self.inner.span_attributes(Aliases::from_bits(aliases)) {
                let value = attribute_to_py(py, &value)?;
                match key {
                    Cow::Borrowed(known) => dict.set_item(interned_key(py, known), value)?,
                    Cow::Owned(free_form) => dict.set_item(free_form, value)?,
                }
            }
            PyResult::Ok(dict.unbind())
        })?;
        Ok(dict.bind(py).clone())
    }

    /// The session id, if set.
    #[getter]
    fn session_id(&self) -> Option<&str> {
        self.inner.session_id()
    }

    /// The user id, if set.
    #[getter]
    fn user_id(&self) -> Option<&str> {
        self.inner.user_id()
    }

    fn __repr__(&self) -> String {
        format!(
            "Attributes({:?})",
            self.inner.span_attributes(Aliases::NONE)
        )
    }
}

/// Parses alias names (`gen_ai`, `langsmith`, `traceloop`) into bits.
#[pyfunction]
fn parse_aliases(names: &Bound<'_, PyAny>) -> PyResult<u8> {
    let names = tags_arg(Some(names))
        .map_err(|_| PyTypeError::new_err("aliases must be a list of str such as [\"gen_ai\"]"))?;
    let names = names.unwrap_or_default();
    Aliases::parse(names.iter().map(String::as_str))
        .map(Aliases::bits)
        .into_py_err()
}

/// Checks an id the way the core does (for `clear_session`'s argument).
#[pyfunction]
fn validate_session_id(session_id: &Bound<'_, PyAny>) -> PyResult<String> {
    let id = string_arg(Some(session_id), "session_id")?
        .ok_or_else(|| PyTypeError::new_err("session_id must be a str, not NoneType"))?;
    openinference_session::attributes::validate_id(openinference_session::Field::SessionId, &id)
        .into_py_err()?;
    Ok(id)
}

/// Checks that `value` is a dict of JSON values the way metadata is checked
/// (`TypeError`/`ValueError` naming the place in `name`), without the size
/// limit of span attributes; returns it as compact JSON text. For the API
/// client's annotation metadata.
#[pyfunction]
fn json_object_text(value: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    json_object_text_from_py(value, name)
}

/// The attribute keys the core writes, as interned Python strings: building a
/// dict with a `&str` key makes (and hashes) a new Python string every time.
static KEYS: PyOnceLock<HashMap<&'static str, Py<PyString>>> = PyOnceLock::new();

fn interned_key<'py>(py: Python<'py>, key: &str) -> Bound<'py, PyString> {
    let keys = KEYS.get_or_init(py, || {
        keys::RESERVED
            .iter()
            .map(|k| (*k, PyString::intern(py, k).unbind()))
            .collect()
    });
    match keys.get(key) {
        Some(interned) => interned.bind(py).clone(),
        None => PyString::new(py, key),
    }
}

/// OpenInference's context keys that Python keeps (the core's order): the
/// order of `context_values()`.
pub(crate) const CONTEXT_KEYS: &[&str] = keys::SHARED_CONTEXT_KEYS;

static CONTEXT_KEY_OBJECTS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();

/// [`CONTEXT_KEYS`] as interned Python strings, by position: writing a
/// context needs no lookup by name.
pub(crate) fn context_keys(py: Python<'_>) -> &[Py<PyString>] {
    CONTEXT_KEY_OBJECTS.get_or_init(py, || {
        CONTEXT_KEYS
            .iter()
            .map(|k| interned_key(py, k).unbind())
            .collect()
    })
}

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Attributes>()?;
    m.add_class::<scope::ContextScope>()?;
    m.add_function(wrap_pyfunction!(scope::install_context_hooks, m)?)?;
    m.add_function(wrap_pyfunction!(scope::set_baggage_flag, m)?)?;
    m.add_function(wrap_pyfunction!(scope::using_session, m)?)?;
    m.add_function(wrap_pyfunction!(scope::using_attributes, m)?)?;
    m.add_function(wrap_pyfunction!(parse_aliases, m)?)?;
    m.add_function(wrap_pyfunction!(validate_session_id, m)?)?;
    m.add_function(wrap_pyfunction!(json_object_text, m)?)?;
    m.add("MAX_ID_BYTES", openinference_session::MAX_ID_BYTES)?;
    m.add("MAX_VALUE_BYTES", openinference_session::MAX_VALUE_BYTES)?;
    m.add(
        "MAX_TEMPLATE_BYTES",
        openinference_session::MAX_TEMPLATE_BYTES,
    )?;
    m.add("CONTEXT_KEYS", PyTuple::new(m.py(), CONTEXT_KEYS)?)?;
    m.add("BAGGAGE_SESSION_ID", keys::BAGGAGE_SESSION_ID)?;
    m.add("BAGGAGE_USER_ID", keys::BAGGAGE_USER_ID)?;
    Ok(())
}
