//! Python values to and from core values: JSON objects (metadata, template
//! variables) as objects or straight as JSON text, and span attribute values.

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

/// What a Python value is as JSON: the one place that decides it, for
/// converting ([`to_json`]), writing text ([`write_value`]) and comparing
/// ([`json_object_matches`]).
enum JsonKind<'a, 'py> {
    Null,
    Bool(bool),
    /// An `int`; converted to a 64-bit integer if it fits.
    Int,
    Float(f64),
    Str(&'a Bound<'py, PyString>),
    Object(&'a Bound<'py, PyDict>),
    /// A list or a tuple.
    Array,
    /// Not JSON-serializable.
    Other,
}

fn json_kind<'a, 'py>(value: &'a Bound<'py, PyAny>) -> JsonKind<'a, 'py> {
    // exact-type checks first: they are the common case and the cheapest
    if let Ok(s) = value.cast_exact::<PyString>() {
        return JsonKind::Str(s);
    }
    if value.is_none() {
        return JsonKind::Null;
    }
    // bool before int: in Python a bool is an int
    if let Ok(b) = value.cast::<PyBool>() {
        return JsonKind::Bool(b.is_true());
    }
    if value.is_instance_of::<PyInt>() {
        return JsonKind::Int;
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return JsonKind::Float(f.value());
    }
    if let Ok(s) = value.cast::<PyString>() {
        return JsonKind::Str(s);
    }
    if let Ok(d) = value.cast::<PyDict>() {
        return JsonKind::Object(d);
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return JsonKind::Array;
    }
    JsonKind::Other
}

fn to_json(value: &Bound<'_, PyAny>, path: &Path<'_>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "{path} is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    match json_kind(value) {
        JsonKind::Str(s) => Ok(Value::String(s.to_str()?.to_owned())),
        JsonKind::Null => Ok(Value::Null),
        JsonKind::Bool(b) => Ok(Value::Bool(b)),
        JsonKind::Int => {
            if let Ok(i) = value.extract::<i64>() {
                return Ok(Value::from(i));
            }
            if let Ok(u) = value.extract::<u64>() {
                return Ok(Value::from(u));
            }
            Err(PyValueError::new_err(format!(
                "{path} is an integer too large for JSON interchange (64 bits)"
            )))
        }
        JsonKind::Float(f) => Number::from_f64(f).map(Value::Number).ok_or_else(|| {
            PyValueError::new_err(format!("{path} is {f}, which JSON cannot represent"))
        }),
        JsonKind::Object(d) => Ok(Value::Object(dict_to_json(d, path, depth)?)),
        JsonKind::Array => value
            .try_iter()?
            .enumerate()
            .map(|(i, item)| to_json(&item?, &Path::Index(path, i), depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array),
        JsonKind::Other => Err(PyTypeError::new_err(format!(
            "{path} is not JSON-serializable: a value of type {}",
            type_name(value)
        ))),
    }
}

/// Writes a `dict` that must be JSON-serializable as the text `serde_json`
/// gives the object [`json_object_from_py`] builds (compact, keys sorted),
/// straight from the Python values: one pass that checks as it writes, with
/// the same errors in the same order (the dict's own), and no object built.
pub(crate) fn json_object_text_from_py(value: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    let dict = value.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!("{name} must be a dict, not {}", type_name(value)))
    })?;
    let mut out = Vec::with_capacity(64);
    write_dict(dict, &Path::Root(name), 0, &mut out)?;
    // only whole `str`s and ASCII are written
    String::from_utf8(out).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// A `serde_json` write into a `Vec`, which cannot fail.
fn write_serde<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> PyResult<()> {
    serde_json::to_writer(out, value).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The key of a dict entry, which must be a `str`.
fn dict_key<'py>(key: Bound<'py, PyAny>, path: &Path<'_>) -> PyResult<Bound<'py, PyString>> {
    key.cast_into::<PyString>().map_err(|e| {
        let key = e.into_inner();
        PyTypeError::new_err(format!(
            "{path} is not JSON-serializable: key {} is a {}, keys must be str",
            key.repr().map(|r| r.to_string()).unwrap_or_default(),
            type_name(&key)
        ))
    })
}

/// Writes the entries in the dict's order while their keys come sorted (the
/// common small dict costs no bookkeeping); at the first key out of order it
/// starts over with [`write_dict_sorting`], which checks the entries in the
/// same order, so the same error wins.
fn write_dict(
    dict: &Bound<'_, PyDict>,
    path: &Path<'_>,
    depth: usize,
    out: &mut Vec<u8>,
) -> PyResult<()> {
    let open = out.len();
    out.push(b'{');
    let mut previous: Option<Bound<'_, PyString>> = None;
    for (key, value) in dict.iter() {
        let key = dict_key(key, path)?;
        let text = key.to_str()?;
        if let Some(previous) = &previous {
            if previous.to_str()? >= text {
                out.truncate(open);
                return write_dict_sorting(dict, path, depth, out);
            }
            out.push(b',');
        }
        write_entry(out, text, &value, path, depth)?;
        previous = Some(key);
    }
    out.push(b'}');
    Ok(())
}

/// Writes the entries in the dict's order, then reorders them by key. Keys of
/// equal text (possible with `str` subclasses) keep the last value, as
/// inserting into the object does.
fn write_dict_sorting(
    dict: &Bound<'_, PyDict>,
    path: &Path<'_>,
    depth: usize,
    out: &mut Vec<u8>,
) -> PyResult<()> {
    let open = out.len();
    out.push(b'{');
    // each entry's key and the range of its `"key":value` text in `out`
    let mut entries: Vec<(Bound<'_, PyString>, usize, usize)> = Vec::with_capacity(dict.len());
    for (key, value) in dict.iter() {
        let key = dict_key(key, path)?;
        let text = key.to_str()?;
        if !entries.is_empty() {
            out.push(b',');
        }
        let start = out.len() - open - 1;
        write_entry(out, text, &value, path, depth)?;
        let end = out.len() - open - 1;
        entries.push((key, start, end));
    }
    let written = out.split_off(open + 1);
    let mut keyed = entries
        .iter()
        .map(|(key, start, end)| Ok((key.to_str()?, *start, *end)))
        .collect::<PyResult<Vec<_>>>()?;
    keyed.sort_by(|a, b| a.0.cmp(b.0)); // stable: equal keys stay in dict order
    let mut first = true;
    for (i, (key, start, end)) in keyed.iter().enumerate() {
        if keyed.get(i + 1).is_some_and(|next| next.0 == *key) {
            continue; // a later value of the same key wins
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(&written[*start..*end]);
    }
    out.push(b'}');
    Ok(())
}

/// Writes one `"key":value` entry of an object at `path`.
fn write_entry(
    out: &mut Vec<u8>,
    key: &str,
    value: &Bound<'_, PyAny>,
    path: &Path<'_>,
    depth: usize,
) -> PyResult<()> {
    write_serde(out, key)?;
    out.push(b':');
    write_value(value, &Path::Key(path, key), depth + 1, out)
}

/// [`to_json`]'s rules, written as text.
fn write_value(
    value: &Bound<'_, PyAny>,
    path: &Path<'_>,
    depth: usize,
    out: &mut Vec<u8>,
) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "{path} is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    match json_kind(value) {
        JsonKind::Str(s) => write_serde(out, s.to_str()?),
        JsonKind::Null => {
            out.extend_from_slice(b"null");
            Ok(())
        }
        JsonKind::Bool(b) => {
            out.extend_from_slice(if b { b"true" } else { b"false" });
            Ok(())
        }
        JsonKind::Int => {
            if let Ok(i) = value.extract::<i64>() {
                return write_serde(out, &i);
            }
            if let Ok(u) = value.extract::<u64>() {
                return write_serde(out, &u);
            }
            Err(PyValueError::new_err(format!(
                "{path} is an integer too large for JSON interchange (64 bits)"
            )))
        }
        JsonKind::Float(f) if f.is_finite() => write_serde(out, &f),
        JsonKind::Float(f) => Err(PyValueError::new_err(format!(
            "{path} is {f}, which JSON cannot represent"
        ))),
        JsonKind::Object(d) => write_dict(d, path, depth, out),
        JsonKind::Array => {
            out.push(b'[');
            let item_at = |i: usize, item: &Bound<'_, PyAny>, out: &mut Vec<u8>| {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, &Path::Index(path, i), depth + 1, out)
            };
            // exact lists and tuples walked directly, without an iterator object
            if let Ok(list) = value.cast_exact::<PyList>() {
                for (i, item) in list.iter().enumerate() {
                    item_at(i, &item, out)?;
                }
            } else if let Ok(tuple) = value.cast_exact::<PyTuple>() {
                for (i, item) in tuple.iter().enumerate() {
                    item_at(i, &item, out)?;
                }
            } else {
                for (i, item) in value.try_iter()?.enumerate() {
                    item_at(i, &item?, out)?;
                }
            }
            out.push(b']');
            Ok(())
        }
        JsonKind::Other => Err(PyTypeError::new_err(format!(
            "{path} is not JSON-serializable: a value of type {}",
            type_name(value)
        ))),
    }
}

/// Whether `value` is a dict that [`json_object_from_py`] converts to exactly
/// `expected`, found without building anything. What the conversion refuses
/// does not match; neither do keys of a `str` subclass (two of them may hold
/// the same text), so a `true` is always exact.
pub(crate) fn json_object_matches(value: &Bound<'_, PyAny>, expected: &JsonObject) -> bool {
    value
        .cast::<PyDict>()
        .is_ok_and(|dict| dict_matches(dict, expected))
}

fn dict_matches(dict: &Bound<'_, PyDict>, expected: &JsonObject) -> bool {
    // equal sizes and every (distinct, exact-str) key found: the same keys
    dict.len() == expected.len()
        && dict.iter().all(|(key, value)| {
            key.cast_exact::<PyString>()
                .ok()
                .and_then(|k| k.to_str().ok().and_then(|k| expected.get(k)))
                .is_some_and(|e| json_matches(&value, e))
        })
}

/// Recursion is bounded by `expected`, which passed the depth check.
fn json_matches(value: &Bound<'_, PyAny>, expected: &Value) -> bool {
    match (json_kind(value), expected) {
        (JsonKind::Str(s), Value::String(e)) => s.to_str().is_ok_and(|s| s == e),
        (JsonKind::Null, Value::Null) => true,
        (JsonKind::Bool(b), Value::Bool(e)) => b == *e,
        // the same order of attempts as `to_json`: i64, then u64
        (JsonKind::Int, Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(e), _) => value.extract::<i64>().is_ok_and(|i| i == e),
            (None, Some(e)) => value.extract::<u64>().is_ok_and(|u| u == e),
            (None, None) => false,
        },
        // bit for bit: -0.0 == 0.0, but their JSON texts differ
        (JsonKind::Float(f), Value::Number(n)) => {
            n.is_f64() && n.as_f64().is_some_and(|e| e.to_bits() == f.to_bits())
        }
        (JsonKind::Object(d), Value::Object(e)) => dict_matches(d, e),
        (JsonKind::Array, Value::Array(items)) => {
            let Ok(mut iter) = value.try_iter() else {
                return false;
            };
            let mut expected = items.iter();
            iter.all(|item| {
                item.ok()
                    .zip(expected.next())
                    .is_some_and(|(item, e)| json_matches(&item, e))
            }) && expected.next().is_none()
        }
        _ => false,
    }
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
