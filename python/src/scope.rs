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
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::{Attributes, CONTEXT_KEYS};

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

/// Validated session attributes by id. Attributes are immutable, so a chat app
/// entering the same session turn after turn reuses one object and its cached
/// context and span forms. Bounded: the oldest id goes when full.
struct SessionCache {
    by_id: HashMap<String, Py<Attributes>>,
    order: VecDeque<String>,
}

const SESSION_CACHE_SIZE: usize = 4096;

static SESSION_CACHE: Mutex<Option<SessionCache>> = Mutex::new(None);

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
    let mut guard = SESSION_CACHE
        .lock()
        .map_err(|_| PyRuntimeError::new_err("session cache poisoned"))?;
    let cache = guard.get_or_insert_with(|| SessionCache {
        by_id: HashMap::new(),
        order: VecDeque::new(),
    });
    if let Some(attrs) = cache.by_id.get(id) {
        return Ok(attrs.clone_ref(py));
    }
    let attrs = Py::new(py, Attributes::for_session_id(id)?)?;
    if cache.order.len() >= SESSION_CACHE_SIZE
        && let Some(oldest) = cache.order.pop_front()
    {
        cache.by_id.remove(&oldest);
    }
    cache.order.push_back(id.to_owned());
    cache.by_id.insert(id.to_owned(), attrs.clone_ref(py));
    Ok(attrs)
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
