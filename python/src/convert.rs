//! Python values to and from core values: JSON objects (metadata, template
//! variables) and span attribute values.

use openinference_session::AttributeValue;
use openinference_session::attributes::JsonObject;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Number, Value};

/// Deeper nesting than this is refused: it is not metadata, and recursion on
/// it would risk the stack.
const MAX_DEPTH: usize = 64;

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// Where a value sits inside an argument, rendered only when an error needs it
/// (formatting it for every key would cost more than the conversion).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Key(parent, key) => write!(f, "{parent}[{key:?}]"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Converts a `dict` that must be JSON-serializable into a JSON object.
pub(crate) fn json_object_from_py(value: &Bound<'_, PyAny>, name: &str) -> PyResult<JsonObject> {
    let dict = value.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!("{name} must be a dict, not {}", type_name(value)))
    })?;
    dict_to_json(dict, &Path::Root(name), 0)
}

fn dict_to_json(dict: &Bound<'_, PyDict>, path: &Path<'_>, depth: usize) -> PyResult<JsonObject> {
    let mut object = JsonObject::new();
    for (key, value) in dict.iter() {
        let key = key.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{path} is not JSON-serializable: key {} is a {}, keys must be str",
                key.repr().map(|r| r.to_string()).unwrap_or_default(),
                type_name(&key)
            ))
        })?;
        let key = key.to_str()?;
        let value = to_json(&value, &Path::Key(path, key), depth + 1)?;
        object.insert(key.to_owned(), value);
    }
    Ok(object)
}

fn to_json(value: &Bound<'_, PyAny>, path: &Path<'_>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "{path} is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    // exact-type checks first: they are the common case and the cheapest
    if let Ok(s) = value.cast_exact::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: in Python a bool is an int
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyValueError::new_err(format!(
            "{path} is an integer too large for JSON interchange (64 bits)"
        )));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        let f = f.value();
        return Number::from_f64(f).map(Value::Number).ok_or_else(|| {
            PyValueError::new_err(format!("{path} is {f}, which JSON cannot represent"))
        });
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(d) = value.cast::<PyDict>() {
        return Ok(Value::Object(dict_to_json(d, path, depth)?));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return value
            .try_iter()?
            .enumerate()
            .map(|(i, item)| to_json(&item?, &Path::Index(path, i), depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    Err(PyTypeError::new_err(format!(
        "{path} is not JSON-serializable: a value of type {}",
        type_name(value)
    )))
}

/// Converts a free-form attribute value (str, bool, int, float, or a list of
/// one of those).
pub(crate) fn attribute_from_py(key: &str, value: &Bound<'_, PyAny>) -> PyResult<AttributeValue> {
    let root = Path::Root("attributes");
    let path = Path::Key(&root, key);
    let json = to_json(value, &path, 0)?;
    if matches!(json, Value::Null | Value::Object(_)) {
        return Err(PyTypeError::new_err(format!(
            "{path} must be a str, bool, int, float or a list of one of those, not {}",
            type_name(value)
        )));
    }
    AttributeValue::from_json(key, &json).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Converts an attribute value into the Python value the OpenTelemetry SDK
/// expects (lists stay lists; the SDK makes them tuples).
pub(crate) fn attribute_to_py<'py>(
    py: Python<'py>,
    value: &AttributeValue,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        AttributeValue::String(s) => PyString::new(py, s).into_any(),
        AttributeValue::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        AttributeValue::Int(i) => i.into_pyobject(py)?.into_any(),
        AttributeValue::Float(f) => f.into_pyobject(py)?.into_any(),
        AttributeValue::StringArray(v) => PyList::new(py, v)?.into_any(),
        AttributeValue::BoolArray(v) => PyList::new(py, v)?.into_any(),
        AttributeValue::IntArray(v) => PyList::new(py, v)?.into_any(),
        AttributeValue::FloatArray(v) => PyList::new(py, v)?.into_any(),
    })
}
