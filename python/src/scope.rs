//! `ContextScope`: entering and leaving a session scope without Python frames.
//!
//! The context still lives in OpenTelemetry's Python context: this calls its
//! runtime's `get_current`/`attach`/`detach`, or the `ContextVar` methods they
//! wrap when the runtime is OpenTelemetry's default one (handed over once by
//! `_context.py` through [`install_context_hooks`]). What it saves is the
//! interpreter's work around them: the scope object, `__enter__` and
//! `__exit__` frames and the dict merging, about half of what a scope cost in
//! Python. Anything but the outermost case (another scope, OpenInference keys
//! or baggage in effect) is handed to `_context.context_with`, so the rules of
//! inheritance stay in one place.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PyString, PyTuple};

use openinference_session::attributes::validate_id;
use openinference_session::keys::slot;
use openinference_session::{ContextAttributes, Field};

use crate::convert::{json_object_from_py, json_object_matches, json_object_text_from_py};
use crate::error::CoreResultExt;
use crate::{Attributes, context_keys, tags_arg, tags_match};

/// The Python callables and constants the scope path uses.
struct Hooks {
    get_current: Py<PyAny>,
    attach: Py<PyAny>,
    /// Restores the context of a token; may raise.
    reset: Py<PyAny>,
    /// `reset` that logs instead of raising.
    detach: Py<PyAny>,
    context_type: Py<PyAny>,
    context_with: Py<PyAny>,
    /// `_scopes._decorate(attributes, fn)`: the decorator forms.
    decorate: Py<PyAny>,
    /// `async def (scope)` calling `__enter__` / `__exit__`: `async with`.
    aenter: Py<PyAny>,
    aexit: Py<PyAny>,
    scope_key: Py<PyString>,
    /// `CONTEXT_KEYS` and the scope key: what makes a context not the
    /// outermost case.
    inherited_keys: Py<PyFrozenSet>,
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
    reset: Py<PyAny>,
    detach: Py<PyAny>,
    context_type: Py<PyAny>,
    context_with: Py<PyAny>,
    scope_key: &Bound<'_, PyString>,
    decorate: Py<PyAny>,
    aenter: Py<PyAny>,
    aexit: Py<PyAny>,
) -> PyResult<()> {
    let scope_key = PyString::intern(py, scope_key.to_str()?).unbind();
    let inherited_keys = PyFrozenSet::new(
        py,
        context_keys(py)
            .iter()
            .chain([&scope_key])
            .map(|k| k.bind(py)),
    )?
    .unbind();
    // A second call (a module reloaded) keeps the first hooks: both are the same functions.
    let _ = HOOKS.set(
        py,
        Hooks {
            get_current,
            attach,
            reset,
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
    /// The detach token of the outermost `__enter__` not yet exited: a scope
    /// is rarely nested in itself, so the common case allocates nothing.
    token: Option<Py<PyAny>>,
    /// The tokens of `__enter__`s nested in that one, innermost last.
    nested_tokens: Vec<Py<PyAny>>,
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
            // A context holds a few keys (the current span, baggage): looking
            // each up among ours costs less than looking ours up in it.
            Ok(dict) => {
                let inherited = hooks.inherited_keys.bind(py);
                let mut clear = true;
                for key in dict.keys() {
                    if inherited.contains(key)? {
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
    let values = attrs.get().context_values_tuple(py)?.bind(py);
    // `Context(ctx)`: dict's own copy of the current context
    let new = hooks.context_type.bind(py).call1((ctx,))?;
    // dict-level writes: `Context` forbids item assignment from Python, not
    // the dict protocol it is built on. Only set values are written: an unset
    // key reads as None either way.
    let dict = new.cast::<PyDict>()?;
    for (key, value) in context_keys(py).iter().zip(values.iter()) {
        if !value.is_none() {
            dict.set_item(key.bind(py), value)?;
        }
    }
    let entry = PyTuple::new(py, [attrs.as_any(), values.as_any()])?;
    dict.set_item(hooks.scope_key.bind(py), entry)?;
    Ok(new)
}

#[pymethods]
impl ContextScope {
    #[new]
    fn new(attributes: Py<Attributes>) -> Self {
        ContextScope {
            attributes,
            token: None,
            nested_tokens: Vec::new(),
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
        let token = hooks.attach.bind(py).call1((new,))?.unbind();
        let mut scope = slf.borrow_mut();
        if scope.token.is_none() {
            scope.token = Some(token);
        } else {
            scope.nested_tokens.push(token);
        }
        drop(scope);
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
    #[pyo3(signature = (_exc_type=None, _exc_value=None, _traceback=None))]
    fn __exit__(
        slf: &Bound<'_, Self>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let token = {
            let mut scope = slf.borrow_mut();
            match scope.nested_tokens.pop() {
                Some(token) => Some(token),
                None => scope.token.take(),
            }
        };
        if let Some(token) = token {
            let hooks = hooks(py)?;
            if hooks.reset.bind(py).call1((&token,)).is_err() {
                // A reset that raised changed nothing: the detach wrapper
                // tries again, and logs what it raises (never raises itself).
                hooks.detach.bind(py).call1((token,))?;
            }
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
/// mutable, its identity says nothing. Metadata is first compared as its JSON
/// text, which a new scope needs anyway (written while validating); attributes
/// found again that way keep the metadata as an object too, and are compared
/// with by walking the dict from then on, without writing anything. When they
/// differ, the new attributes (made with the text written) replace the old: a
/// session whose metadata changes every turn pays one text comparison more
/// than no cache. Bounded: the oldest key goes when full.
struct ScopeCache {
    hasher: BuildHasherDefault<IdsHasher>,
    /// By [`CommonArgs::key`]. A hash, not the ids themselves: looking up by
    /// borrowed ids would need a key type of its own, and [`CommonArgs::held_by`]
    /// tells apart the ids of a collision.
    by_key: HashMap<u64, Py<Attributes>, BuildHasherDefault<KeyHasher>>,
    /// The keys, oldest first.
    order: VecDeque<u64>,
}

/// Hashes the ids of a scope for [`ScopeCache`]: a multiply-rotate hash of
/// eight bytes at a time (rustc's "Fx" hash), several times cheaper than the
/// standard SipHash on short ids. Crafted ids that collide can only make their
/// scopes replace each other in the cache: [`CommonArgs::held_by`] checks the
/// ids themselves.
#[derive(Default)]
struct IdsHasher(u64);

impl IdsHasher {
    /// Mixes one word into the hash.
    fn add(&mut self, word: u64) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdsHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut rest = [0; 8];
        rest[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.add(u64::from_le_bytes(rest));
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
}

/// The map's keys are hashes already: hashing them again would cost as much
/// as the first time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // only `write_u64` is used; any other input still spreads
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const SCOPE_CACHE_SIZE: usize = 4096;
/// Metadata and tags larger than this (JSON text and tag bytes) are not cached:
/// with ids of up to 4 KiB this keeps the cache within tens of MiB.
const SCOPE_CACHE_MAX_CONTENT_BYTES: usize = 4096;

static SCOPE_CACHE: Mutex<Option<ScopeCache>> = Mutex::new(None);

/// The arguments of a common scope, the ids already valid.
struct CommonArgs<'a, 'py> {
    session_id: Option<&'a str>,
    user_id: Option<&'a str>,
    metadata: Option<&'a Bound<'py, PyAny>>,
    tags: Option<&'a Bound<'py, PyAny>>,
}

impl CommonArgs<'_, '_> {
    fn key(&self, hasher: &BuildHasherDefault<IdsHasher>) -> u64 {
        hasher.hash_one((
            self.session_id,
            self.user_id,
            self.metadata.is_some(),
            self.tags.is_some(),
        ))
    }

    /// Whether `attrs` (of the same key) have these ids and set metadata and
    /// tags when these do. Rust alone: called under the lock.
    fn held_by(&self, attrs: &Attributes) -> bool {
        let inner = &attrs.inner;
        inner.session_id() == self.session_id
            && inner.user_id() == self.user_id
            && inner.metadata_json().is_some() == self.metadata.is_some()
            && inner.tags().is_some() == self.tags.is_some()
    }

    /// Checks the ids, as the core does when it sets them: first, so that an
    /// error in them wins over one in the metadata.
    fn check_ids(&self) -> PyResult<()> {
        if let Some(id) = self.session_id {
            validate_id(Field::SessionId, id).into_py_err()?;
        }
        if let Some(id) = self.user_id {
            validate_id(Field::UserId, id).into_py_err()?;
        }
        Ok(())
    }

    /// Whether these tags validate to exactly those of `attrs`. Reads Python
    /// objects: never under the lock.
    fn tags_match(&self, attrs: &Attributes) -> bool {
        match (self.tags, attrs.inner.tags()) {
            (Some(given), Some(held)) => tags_match(given, held),
            _ => true,
        }
    }

    /// Whether `attrs` are these, found by walking the metadata dict: only
    /// when `attrs` keep their metadata as an object (or have none).
    fn match_by_walking(&self, py: Python<'_>, attrs: &Attributes) -> bool {
        let metadata = match self.metadata {
            None => true,
            Some(given) => attrs
                .metadata_object
                .get(py)
                .is_some_and(|held| json_object_matches(given, held)),
        };
        metadata && self.tags_match(attrs)
    }
}

fn lock_scope_cache() -> PyResult<std::sync::MutexGuard<'static, Option<ScopeCache>>> {
    SCOPE_CACHE
        .lock()
        .map_err(|_| PyRuntimeError::new_err("scope cache poisoned"))
}

/// The attributes of `args` from the cache, else validated by `validate`
/// (given the metadata's text) and cached. The lock is never held while
/// Python code may run.
fn cached_attributes(
    py: Python<'_>,
    args: &CommonArgs<'_, '_>,
    validate: impl FnOnce(Option<String>) -> PyResult<Attributes>,
) -> PyResult<Py<Attributes>> {
    let (key, cached) = {
        let mut guard = lock_scope_cache()?;
        let cache = guard.get_or_insert_with(|| ScopeCache {
            hasher: BuildHasherDefault::default(),
            by_key: HashMap::default(),
            order: VecDeque::new(),
        });
        let key = args.key(&cache.hasher);
        let cached = cache
            .by_key
            .get(&key)
            .filter(|attrs| args.held_by(attrs.get()))
            .map(|attrs| attrs.clone_ref(py));
        (key, cached)
    };
    match &cached {
        Some(attrs) if args.match_by_walking(py, attrs.get()) => return Ok(attrs.clone_ref(py)),
        // held ids are valid ones
        Some(_) => {}
        None => args.check_ids()?,
    }
    // validates the metadata (the walk above only ever matches valid metadata)
    let mut text = args
        .metadata
        .map(|m| json_object_text_from_py(m, "metadata"))
        .transpose()?;
    let mut derived = None;
    if let Some(attrs) = cached {
        let held = attrs.get();
        if args.tags_match(held) {
            if held.inner.metadata_json() == text.as_deref() {
                if let Some(given) = args.metadata {
                    // found again: compared by walking from now on
                    let _ = held
                        .metadata_object
                        .set(py, json_object_from_py(given, "metadata")?);
                }
                return Ok(attrs);
            }
            // Only the metadata differs (a session whose metadata changes
            // every turn): the rest is already valid and made, reuse it.
            if let Some(text) = text.take() {
                derived = Some(with_new_metadata(py, held, text)?);
            }
        }
    }
    let attrs = match derived {
        Some(attrs) => Py::new(py, attrs)?,
        None => Py::new(py, validate(text)?)?,
    };
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

/// `held` with the metadata `text` instead of theirs; their context values
/// (ids, tag list) are shared, none of them is ever changed.
fn with_new_metadata(py: Python<'_>, held: &Attributes, text: String) -> PyResult<Attributes> {
    let inner = held.inner.clone().with_metadata_text(text).into_py_err()?;
    let metadata = inner
        .metadata_json()
        .map(|m| PyString::new(py, m).into_any());
    let held_values = held.context_values_tuple(py)?.bind(py);
    let mut slots: [Option<Bound<'_, PyAny>>; crate::CONTEXT_KEYS.len()] =
        std::array::from_fn(|i| held_values.get_item(i).ok());
    slots[slot::METADATA] = metadata;
    let values = PyTuple::new(py, slots)?;
    Ok(Attributes::with_context_values(py, inner, values))
}

/// The caller's own objects for a scope's context values, where they are what
/// the scope would otherwise make: an exact `str` is immutable, so the context
/// can hold the one given instead of a copy.
struct GivenObjects<'a, 'py> {
    session_id: Option<&'a Bound<'py, PyAny>>,
    user_id: Option<&'a Bound<'py, PyAny>>,
    tags: Option<&'a Bound<'py, PyAny>>,
}

impl<'py> GivenObjects<'_, 'py> {
    /// `attrs` with their `context_values()` made of the given objects; the
    /// metadata text and the tag list are new objects (a list is mutable, so
    /// the context gets its own).
    fn attributes(&self, py: Python<'py>, inner: ContextAttributes) -> PyResult<Attributes> {
        let text = |given: Option<&Bound<'py, PyAny>>, held: Option<&str>| {
            held.map(|held| match given.map(|g| g.cast_exact::<PyString>()) {
                Some(Ok(same)) => same.clone().into_any(),
                _ => PyString::new(py, held).into_any(),
            })
        };
        // which value goes where: the slots of `ContextValues::into_slots`
        let mut slots: [Option<Bound<'py, PyAny>>; crate::CONTEXT_KEYS.len()] =
            std::array::from_fn(|_| None);
        slots[slot::SESSION_ID] = text(self.session_id, inner.session_id());
        slots[slot::USER_ID] = text(self.user_id, inner.user_id());
        slots[slot::METADATA] = inner
            .metadata_json()
            .map(|m| PyString::new(py, m).into_any());
        if let Some(held) = inner.tags() {
            let list = match self.tags.and_then(|given| given_tag_list(given, held)) {
                Some(list) => list,
                None => PyList::new(py, held)?,
            };
            slots[slot::TAG_TAGS] = Some(list.into_any());
        }
        let values = PyTuple::new(py, slots)?;
        Ok(Attributes::with_context_values(py, inner, values))
    }
}

/// A new list of the items of a tag list or tuple, when they are exactly
/// `held`'s strings (all exact `str`, none dropped as a duplicate).
fn given_tag_list<'py>(given: &Bound<'py, PyAny>, held: &[String]) -> Option<Bound<'py, PyList>> {
    let list = if let Ok(list) = given.cast::<PyList>() {
        list.get_slice(0, list.len())
    } else {
        given.cast::<PyTuple>().ok()?.to_list()
    };
    (list.len() == held.len() && list.iter().all(|i| i.is_exact_instance_of::<PyString>()))
        .then_some(list)
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
    cached_attributes(py, &args, |_| {
        let inner = ContextAttributes::new().with_session_id(id).into_py_err()?;
        let given = GivenObjects {
            session_id: Some(session_id),
            user_id: None,
            tags: None,
        };
        given.attributes(py, inner)
    })
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

/// The attributes of a scope of ids, metadata and tags alone, checked in the
/// order `Attributes.__new__` checks them (so the same error wins): the ids
/// (unless the cache holds them), the metadata (written as text unless found
/// by walking it), the tags.
fn common_attributes<'py>(
    py: Python<'py>,
    given: GivenObjects<'_, 'py>,
    session_id: Option<&str>,
    user_id: Option<&str>,
    metadata: Option<&Bound<'py, PyAny>>,
) -> PyResult<Py<Attributes>> {
    let args = CommonArgs {
        session_id,
        user_id,
        metadata,
        tags: given.tags,
    };
    cached_attributes(py, &args, |metadata| {
        let mut inner = ContextAttributes::new();
        if let Some(id) = session_id {
            inner = inner.with_session_id(id).into_py_err()?;
        }
        if let Some(id) = user_id {
            inner = inner.with_user_id(id).into_py_err()?;
        }
        if let Some(text) = metadata {
            inner = inner.with_metadata_text(text).into_py_err()?;
        }
        if let Some(tags) = tags_arg(given.tags)? {
            inner = inner.with_tags(tags).into_py_err()?;
        }
        given.attributes(py, inner)
    })
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
        let objects = GivenObjects {
            session_id,
            user_id,
            tags: tags.filter(|v| !v.is_none()),
        };
        let metadata = metadata.filter(|v| !v.is_none());
        let attrs = common_attributes(py, objects, session_text, user_text, metadata)?;
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
