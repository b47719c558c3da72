//! `ContextScope`: entering and leaving a session scope without Python frames.
//!
//! The context still lives in OpenTelemetry's Python context: this calls its
//! runtime's `get_current`/`attach`/`detach` (handed over once by
//! `_context.py` through [`install_context_hooks`]). What it saves is the
//! interpreter's work around them: the scope object, `__enter__` and
//! `__exit__` frames and the dict merging, about half of what a scope cost in
//! Python. Anything but the outermost case (another scope, OpenInference keys
//! or baggage in effect) is handed to `_context.context_with`, so the rules of
//! inheritance stay in one place.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::convert::json_object_matches;
use crate::{Attributes, CONTEXT_KEYS, tags_match};

/// The Python callables and constants the scope path uses.
struct Hooks {
    get_current: Py<PyAny>,
    attach: Py<PyAny>,
    detach: Py<PyAny>,
    context_type: Py<PyAny>,
    context_with: Py<PyAny>,
    /// `_scopes._decorate(attributes, fn)`: the decorator forms.
    decorate: Py<PyAny>,
    /// `async def (scope)` calling `__enter__` / `__exit__`: `async with`.
    aenter: Py<PyAny>,
    aexit: Py<PyAny>,
    scope_key: Py<PyString>,
    /// `CONTEXT_KEYS` and the scope key, interned: what makes a context not
    /// the outermost case.
    inherited_keys: Vec<Py<PyString>>,
}

static HOOKS: PyOnceLock<Hooks> = PyOnceLock::new();

/// Whether baggage propagation is on (mirrors `_context.settings.baggage`):
/// with it on, even the outermost scope takes the Python path.
static BAGGAGE: AtomicBool = AtomicBool::new(false);

/// Hands over OpenTelemetry's runtime functions, its `Context` type,
/// `_context.context_with` and the Python halves of the decorator and
/// `async with` forms. Called once, by `_scopes.py` at import.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn install_context_hooks(
    py: Python<'_>,
    get_current: Py<PyAny>,
    attach: Py<PyAny>,
    detach: Py<PyAny>,
    context_type: Py<PyAny>,
    context_with: Py<PyAny>,
    scope_key: &Bound<'_, PyString>,
    decorate: Py<PyAny>,
    aenter: Py<PyAny>,
    aexit: Py<PyAny>,
) -> PyResult<()> {
    let mut inherited_keys: Vec<Py<PyString>> = CONTEXT_KEYS
        .iter()
        .map(|k| PyString::intern(py, k).unbind())
        .collect();
    let scope_key = PyString::intern(py, scope_key.to_str()?).unbind();
    inherited_keys.push(scope_key.clone_ref(py));
    // A second call (a module reloaded) keeps the first hooks: both are the same functions.
    let _ = HOOKS.set(
        py,
        Hooks {
            get_current,
            attach,
            detach,
            context_type,
            context_with,
            decorate,
            aenter,
            aexit,
            scope_key,
            inherited_keys,
        },
    );
    Ok(())
}

/// Mirrors the baggage switch of `set_baggage_propagation`.
#[pyfunction]
pub(crate) fn set_baggage_flag(enabled: bool) {
    BAGGAGE.store(enabled, Ordering::Relaxed);
}

fn hooks(py: Python<'_>) -> PyResult<&Hooks> {
    HOOKS.get(py).ok_or_else(|| {
        PyRuntimeError::new_err("openinference.instrumentation.session._context was not imported")
    })
}

/// A scope that sets session context attributes.
///
/// Use it as a context manager (`with`), an async context manager
/// (`async with`) or a decorator of a function, coroutine function, generator
/// or async generator. The arguments were validated when it was created. One
/// object serves one `with` at a time per thread or task (nesting it in itself
/// is fine); `with using_session(...)` makes a new one each time.
#[pyclass(module = "openinference.instrumentation.session._native")]
pub(crate) struct ContextScope {
    attributes: Py<Attributes>,
    /// Detach tokens, innermost last: one per `__enter__` not yet exited.
    tokens: Vec<Py<PyAny>>,
}

/// The context inside a scope of `attrs`, opened in `ctx`.
fn context_in<'py>(
    py: Python<'py>,
    hooks: &Hooks,
    attrs: &Bound<'py, Attributes>,
    ctx: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let outermost = !BAGGAGE.load(Ordering::Relaxed)
        && match ctx.cast::<PyDict>() {
            Ok(dict) => {
                let mut clear = true;
                for key in &hooks.inherited_keys {
                    if dict.contains(key.bind(py))? {
                        clear = false;
                        break;
                    }
                }
                clear
            }
            Err(_) => false,
        };
    if !outermost {
        return hooks.context_with.bind(py).call1((attrs, ctx));
    }
    let (values, updates) = attrs.get().context_forms(py)?;
    let new = hooks.context_type.bind(py).call0()?;
    // dict-level writes: `Context` forbids item assignment from Python, not
    // the dict protocol it is built on
    let dict = new.cast::<PyDict>()?;
    dict.update(ctx.cast::<PyDict>()?.as_mapping())?;
    dict.update(updates.bind(py).as_mapping())?;
    let entry = PyTuple::new(py, [attrs.as_any(), values.bind(py).as_any()])?;
    dict.set_item(hooks.scope_key.bind(py), entry)?;
    Ok(new)
}

#[pymethods]
impl ContextScope {
    #[new]
    fn new(attributes: Py<Attributes>) -> Self {
        ContextScope {
            attributes,
            tokens: Vec::new(),
        }
    }

    /// The validated attributes this scope sets.
    #[getter]
    fn attributes(&self, py: Python<'_>) -> Py<Attributes> {
        self.attributes.clone_ref(py)
    }

    // Borrows of the scope object are held only around its own fields, never
    // across a call into Python: another thread may use the same object then.
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        let hooks = hooks(py)?;
        let attrs = slf.borrow().attributes.clone_ref(py).into_bound(py);
        let ctx = hooks.get_current.bind(py).call0()?;
        let new = context_in(py, hooks, &attrs, &ctx)?;
        let token = hooks.attach.bind(py).call1((new,))?;
        slf.borrow_mut().tokens.push(token.unbind());
        Ok(slf)
    }

    /// `async with`: enters when awaited, in the awaiting task.
    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        hooks(py)?.aenter.bind(py).call1((slf,))
    }

    /// `async with`: exits when awaited; never suppresses the exception.
    #[pyo3(signature = (*_exc_info))]
    fn __aexit__<'py>(
        slf: Bound<'py, Self>,
        _exc_info: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        hooks(py)?.aexit.bind(py).call1((slf,))
    }

    /// As a decorator: the function runs inside this scope at every call.
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        func: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let attrs = slf.borrow().attributes.clone_ref(py);
        hooks(py)?.decorate.bind(py).call1((attrs, func))
    }

    /// Restores the context from before the matching `__enter__`. Never
    /// suppresses the exception of the `with` block.
    #[pyo3(signature = (*_exc_info))]
    fn __exit__(slf: &Bound<'_, Self>, _exc_info: &Bound<'_, PyTuple>) -> PyResult<bool> {
        let py = slf.py();
        let token = slf.borrow_mut().tokens.pop();
        if let Some(token) = token {
            // the hook is OpenTelemetry's detach wrapper: it logs, never raises
            hooks(py)?.detach.bind(py).call1((token,))?;
        }
        Ok(false)
    }
}

/// Validated attributes of the common scopes (ids, metadata and tags, nothing
/// else): for each session id and user id, and which of metadata and tags are
/// given, the last attributes opened with them. Attributes are immutable, so a
/// chat app entering the same session turn after turn with the same metadata
/// and tags reuses one object and its cached context and span forms. Metadata
/// and tags are compared with what the attributes hold, by content: a dict is
/// mutable, its identity says nothing. When they differ, the new attributes
/// replace the old, which are still warm in the CPU cache then: a session whose
/// metadata changes every turn pays one comparison more than no cache. Bounded:
/// the oldest key goes when full.
struct ScopeCache {
    hasher: RandomState,
    /// By [`CommonArgs::key`]. A hash, not the ids themselves: looking up by
    /// borrowed ids would need a key type of its own, and [`CommonArgs::ids_match`]
    /// tells apart the ids of a collision.
    by_key: HashMap<u64, Py<Attributes>>,
    /// The keys, oldest first.
    order: VecDeque<u64>,
}

const SCOPE_CACHE_SIZE: usize = 4096;
/// Metadata and tags larger than this (JSON text and tag bytes) are not cached:
/// with ids of up to 4 KiB this keeps the cache within tens of MiB.
const SCOPE_CACHE_MAX_CONTENT_BYTES: usize = 4096;

static SCOPE_CACHE: Mutex<Option<ScopeCache>> = Mutex::new(None);

/// The arguments of a common scope.
struct CommonArgs<'a, 'py> {
    session_id: Option<&'a str>,
    user_id: Option<&'a str>,
    metadata: Option<&'a Bound<'py, PyAny>>,
    tags: Option<&'a Bound<'py, PyAny>>,
}

impl CommonArgs<'_, '_> {
    fn key(&self, hasher: &RandomState) -> u64 {
        hasher.hash_one((
            self.session_id,
            self.user_id,
            self.metadata.is_some(),
            self.tags.is_some(),
        ))
    }

    /// Whether `attrs` (of the same key) have these ids and, as far as Rust
    /// alone can tell, these metadata and tags.
    fn ids_match(&self, attrs: &Attributes) -> bool {
        let inner = &attrs.inner;
        inner.session_id() == self.session_id
            && inner.user_id() == self.user_id
            && inner.metadata().is_some() == self.metadata.is_some()
            && inner.tags().is_some() == self.tags.is_some()
    }

    /// Whether these metadata and tags validate to exactly those of `attrs`
    /// (which have these ids). Reads Python objects: never under the lock.
    fn contents_match(&self, attrs: &Attributes) -> bool {
        let inner = &attrs.inner;
        let metadata = match (self.metadata, inner.metadata()) {
            (Some(given), Some(held)) => json_object_matches(given, held),
            _ => true,
        };
        let tags = match (self.tags, inner.tags()) {
            (Some(given), Some(held)) => tags_match(given, held),
            _ => true,
        };
        metadata && tags
    }
}

fn lock_scope_cache() -> PyResult<std::sync::MutexGuard<'static, Option<ScopeCache>>> {
    SCOPE_CACHE
        .lock()
        .map_err(|_| PyRuntimeError::new_err("scope cache poisoned"))
}

/// The attributes of `args` from the cache, else validated by `validate` and
/// cached. The lock is never held while Python code may run.
fn cached_attributes(
    py: Python<'_>,
    args: &CommonArgs<'_, '_>,
    validate: impl FnOnce() -> PyResult<Attributes>,
) -> PyResult<Py<Attributes>> {
    let (key, cached) = {
        let mut guard = lock_scope_cache()?;
        let cache = guard.get_or_insert_with(|| ScopeCache {
            hasher: RandomState::new(),
            by_key: HashMap::new(),
            order: VecDeque::new(),
        });
        let key = args.key(&cache.hasher);
        let cached = cache
            .by_key
            .get(&key)
            .filter(|attrs| args.ids_match(attrs.get()))
            .map(|attrs| attrs.clone_ref(py));
        (key, cached)
    };
    if let Some(attrs) = cached.filter(|attrs| args.contents_match(attrs.get())) {
        return Ok(attrs);
    }
    let attrs = Py::new(py, validate()?)?;
    let inner = &attrs.get().inner;
    let content_bytes = inner.metadata_json().map_or(0, str::len)
        + inner.tags().map_or(0, |t| t.iter().map(String::len).sum());
    // Tags with duplicates never match (the attributes hold them deduplicated).
    let tags_kept = match (args.tags, inner.tags()) {
        (Some(given), Some(held)) => given.len().is_ok_and(|n| n == held.len()),
        _ => true,
    };
    if content_bytes > SCOPE_CACHE_MAX_CONTENT_BYTES || !tags_kept {
        return Ok(attrs);
    }
    // dropped once the lock is released: freeing it is not done under it
    let evicted = {
        let mut guard = lock_scope_cache()?;
        let Some(cache) = guard.as_mut() else {
            return Ok(attrs);
        };
        match cache.by_key.insert(key, attrs.clone_ref(py)) {
            Some(replaced) => Some(replaced),
            None => {
                cache.order.push_back(key);
                if cache.order.len() > SCOPE_CACHE_SIZE {
                    cache
                        .order
                        .pop_front()
                        .and_then(|oldest| cache.by_key.remove(&oldest))
                } else {
                    None
                }
            }
        }
    };
    drop(evicted);
    Ok(attrs)
}

/// The validated attributes of a session id, from the cache when seen lately.
#[pyfunction]
pub(crate) fn session_attributes(
    py: Python<'_>,
    session_id: &Bound<'_, PyAny>,
) -> PyResult<Py<Attributes>> {
    let Ok(text) = session_id.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "session_id must be a str, not {}",
            session_id.get_type().name()?
        )));
    };
    let id = text.to_str()?;
    let args = CommonArgs {
        session_id: Some(id),
        user_id: None,
        metadata: None,
        tags: None,
    };
    cached_attributes(py, &args, || Attributes::for_session_id(id))
}

/// An id argument as the cache compares it: `Some(None)` when not given,
/// `None` when not a str (validation then raises).
fn id_text<'a>(value: Option<&'a Bound<'_, PyAny>>) -> Option<Option<&'a str>> {
    match value {
        Some(v) if !v.is_none() => v.cast::<PyString>().ok()?.to_str().ok().map(Some),
        _ => Some(None),
    }
}

/// Every span started inside carries `session.id = session_id`.
#[pyfunction]
pub(crate) fn using_session(
    py: Python<'_>,
    session_id: &Bound<'_, PyAny>,
) -> PyResult<ContextScope> {
    Ok(ContextScope::new(session_attributes(py, session_id)?))
}

/// Sets several context attributes at once; `None` leaves one as it is.
///
/// `attributes` are free-form span attributes (str, bool, int, float or a list
/// of one of those), inherited like metadata.
#[pyfunction]
#[pyo3(signature = (
    *, session_id=None, user_id=None, metadata=None, tags=None, prompt_template=None,
    prompt_template_version=None, prompt_template_variables=None, attributes=None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn using_attributes(
    py: Python<'_>,
    session_id: Option<&Bound<'_, PyAny>>,
    user_id: Option<&Bound<'_, PyAny>>,
    metadata: Option<&Bound<'_, PyAny>>,
    tags: Option<&Bound<'_, PyAny>>,
    prompt_template: Option<&Bound<'_, PyAny>>,
    prompt_template_version: Option<&Bound<'_, PyAny>>,
    prompt_template_variables: Option<&Bound<'_, PyAny>>,
    attributes: Option<&Bound<'_, PyAny>>,
) -> PyResult<ContextScope> {
    let given = |v: Option<&Bound<'_, PyAny>>| v.is_some_and(|v| !v.is_none());
    let common = !given(prompt_template)
        && !given(prompt_template_version)
        && !given(prompt_template_variables)
        && !given(attributes);
    if common && let (Some(session_text), Some(user_text)) = (id_text(session_id), id_text(user_id))
    {
        let args = CommonArgs {
            session_id: session_text,
            user_id: user_text,
            metadata: metadata.filter(|v| !v.is_none()),
            tags: tags.filter(|v| !v.is_none()),
        };
        let attrs = cached_attributes(py, &args, || {
            Attributes::new(session_id, user_id, metadata, tags, None, None, None, None)
        })?;
        return Ok(ContextScope::new(attrs));
    }
    let attrs = Attributes::new(
        session_id,
        user_id,
        metadata,
        tags,
        prompt_template,
        prompt_template_version,
        prompt_template_variables,
        attributes,
    )?;
    Ok(ContextScope::new(Py::new(py, attrs)?))
}
