"""Evaluate whole sessions: run an evaluator (code or an LLM judge) over each
session's conversation and store its verdict as a session annotation.

    from openinference.instrumentation.session.client import SessionsClient
    from openinference.instrumentation.session.evals import LLMJudge, evaluate_sessions

    client = SessionsClient()
    judge = LLMJudge(
        complete=my_llm_call,                       # (prompt: str) -> str, any model, any SDK
        criteria="Did the assistant resolve the user's problem?",
        labels={"resolved": 1.0, "unresolved": 0.0},
    )
    run = evaluate_sessions(client, "support-bot", judge, name="resolution", min_traces=2)
    print(run.annotations, run.errors)

An evaluator is any callable taking a :class:`SessionTranscript` and returning
an :class:`EvaluationResult` (or a dict with ``label``/``score``/``explanation``/
``metadata``, or ``None`` to skip the session). Results are logged as
annotations named ``name``, with ``annotator_kind`` ``CODE`` (``LLM`` for
:class:`LLMJudge`), and replace the previous run's verdict on the same session
(same name and ``identifier``).

The Node package's ``evaluateSessions``, ``LLMJudge`` and ``errorFree`` are
this module's twins: same transcripts, prompt, parsing and checks
(``tests/clients/cases.json`` pins both).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ._checks import count, finite_number, json_metadata, non_empty, opt_int, segment, shown, type_name
from .client import ANNOTATOR_KINDS, SessionsClient, _session_query

logger = logging.getLogger("openinference.instrumentation.session.evals")

#: How much conversation an LLM judge is shown, at most, in characters (the end is kept).
DEFAULT_MAX_TRANSCRIPT_CHARS = 600_000


@dataclass(frozen=True)
class Message:
    """One message of a conversation."""

    role: str
    content: str


@dataclass(frozen=True)
class SessionTranscript:
    """A session read back as a conversation: its summary, its turns (the API's
    objects) and the user/assistant messages in order."""

    project: str
    session_id: str
    session: dict[str, Any]
    turns: list[dict[str, Any]]
    messages: list[Message]

    @classmethod
    def from_turns(
        cls, project: str, session_id: str, session: dict[str, Any], turns: list[dict[str, Any]]
    ) -> SessionTranscript:
        """The conversation of a session's turns (the API's objects): each turn's
        input as a user message and its output as an assistant message; a turn
        without an input or an output (``None``) has no such message."""
        messages: list[Message] = []
        for i, turn in enumerate(turns):
            if not isinstance(turn, Mapping):
                raise TypeError(f"turns[{i}] must be a dict, not {type_name(turn)}")
            for key, role in (("input", "user"), ("output", "assistant")):
                io = turn.get(key)
                if io is None:
                    continue
                value = io.get("value") if isinstance(io, Mapping) else None
                if not isinstance(value, str):
                    raise TypeError(f"turns[{i}].{key} must be null or an object with a string value")
                messages.append(Message(role, value))
        return cls(project, session_id, session, turns, messages)

    def text(self, max_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS) -> str:
        """The conversation as ``role: content`` lines; when longer than
        ``max_chars`` characters, the start is cut and marked with ``…`` (the
        end is where a session is decided)."""
        count(max_chars, "max_chars", 1)
        full = "\n".join(f"{m.role}: {m.content}" for m in self.messages)
        return full if len(full) <= max_chars else "…" + full[len(full) - max_chars + 1 :]


@dataclass(frozen=True)
class EvaluationResult:
    """A verdict: at least one of label, score and explanation."""

    label: str | None = None
    score: float | None = None
    explanation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


Evaluator = Callable[[SessionTranscript], EvaluationResult | Mapping[str, Any] | None]


@dataclass
class EvaluationRun:
    """What :func:`evaluate_sessions` did: the stored annotations, and the
    sessions whose evaluation failed (session id → error text)."""

    annotations: list[dict[str, Any]]
    errors: dict[str, str]


def session_transcript(client: SessionsClient, project: str, session_id: str) -> SessionTranscript:
    """Reads a session and its turns and builds the conversation (see
    :meth:`SessionTranscript.from_turns`)."""
    session = client.get_session(project, session_id)
    turns = client.get_turns(project, session_id)
    return SessionTranscript.from_turns(project, session_id, session, turns)


_RESULT_KEYS = ("label", "score", "explanation", "metadata")


def _as_result(value: object) -> EvaluationResult:
    """An evaluator's answer as a verdict; raises on a malformed one."""
    if isinstance(value, EvaluationResult):
        fields: Mapping[str, Any] = {k: getattr(value, k) for k in _RESULT_KEYS}
    elif isinstance(value, Mapping):
        unknown = sorted(str(k) for k in value if k not in _RESULT_KEYS)
        if unknown:
            raise TypeError(f"evaluator returned unknown keys {json.dumps(unknown)}")
        fields = value
    else:
        raise TypeError(
            "evaluator must return an EvaluationResult or a dict with label, score or explanation, "
            f"or None to skip, not {type_name(value)}"
        )
    label, score, explanation = fields.get("label"), fields.get("score"), fields.get("explanation")
    if label is not None and not isinstance(label, str):
        raise TypeError(f"evaluator returned a label that is not a string: {type_name(label)}")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise TypeError(f"evaluator returned a score that is not a finite number: {type_name(score)}")
        if not math.isfinite(score):
            raise ValueError(f"evaluator returned a score that is not a finite number: {score}")
    if explanation is not None and not isinstance(explanation, str):
        raise TypeError(f"evaluator returned an explanation that is not a string: {type_name(explanation)}")
    metadata = fields.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"evaluator returned metadata that is not an object: {type_name(metadata)}")
    return EvaluationResult(label, score, explanation, dict(json_metadata(metadata, "metadata") or {}))


def evaluate_sessions(
    client: SessionsClient,
    project: str,
    evaluator: Evaluator,
    *,
    name: str,
    session_ids: Iterable[str] | None = None,
    annotator_kind: str | None = None,
    identifier: str | None = None,
    max_workers: int = 4,
    page_size: int | None = None,
    **filters: Any,
) -> EvaluationRun:
    """Evaluates sessions of ``project`` and stores each verdict as an annotation
    named ``name``.

    The sessions are ``session_ids``, or every session matching ``filters`` (the
    session list's filters: ``user_id``, ``tag``, ``min_traces``, ``start_time``,
    ``metadata={...}``, ...), listed ``page_size`` at a time; not both.
    Evaluators run on ``max_workers`` threads
    (LLM judges wait on the network). A session whose transcript or evaluator
    fails (or returns a malformed verdict) is reported in ``errors`` (session id
    → ``"ErrorType: message"``) and does not stop the others. The verdicts are
    logged in bulk (1,000 per request, each request all or nothing). Every
    argument is checked before the first request.
    """
    if not callable(getattr(client, "get_turns", None)):
        raise TypeError(f"client must be a SessionsClient, not {type_name(client)}")
    segment(project, "project")
    if not callable(evaluator):
        raise TypeError(
            f"evaluator must be a callable (SessionTranscript) -> result, not {type_name(evaluator)}"
        )
    non_empty(name, "name")
    kind = annotator_kind
    if kind is None:
        kind = getattr(evaluator, "annotator_kind", None)
    if kind is None:
        kind = "CODE"
    if kind not in ANNOTATOR_KINDS:
        error = ValueError if isinstance(kind, str) else TypeError
        raise error(f"annotator_kind must be HUMAN, LLM or CODE, got {shown(kind)}")
    if identifier is None:
        identifier = ""
    elif not isinstance(identifier, str):
        raise TypeError(f"identifier must be a str, not {type_name(identifier)}")
    workers = count(max_workers, "max_workers", 1)
    # the listing options are checked now, whether or not sessions are listed
    _session_query(filters, "evaluate_sessions")
    page_size = opt_int(page_size, "page_size", 1)

    if session_ids is not None:
        if isinstance(session_ids, (str, bytes, Mapping)) or not isinstance(session_ids, Iterable):
            raise TypeError(f"session_ids must be a list (an iterable) of str, not {type_name(session_ids)}")
        given = [k for k, v in {**filters, "page_size": page_size}.items() if v is not None]
        if given:
            raise TypeError(f"session_ids cannot be combined with filters ({', '.join(given)})")
        ids = list(session_ids)
        for i, session_id in enumerate(ids):
            if not isinstance(session_id, str) or session_id == "":
                error = ValueError if isinstance(session_id, str) else TypeError
                raise error(f"session_ids[{i}] must be a non-empty string, got {shown(session_id)}")
    else:
        ids = [s["session_id"] for s in client.iter_sessions(project, page_size=page_size, **filters)]

    def run_one(session_id: str) -> tuple[EvaluationResult | None, str | None]:
        try:
            transcript = session_transcript(client, project, session_id)
            value = evaluator(transcript)
            return (None if value is None else _as_result(value)), None
        except Exception as e:  # noqa: BLE001 - one session's failure is reported, not fatal
            logger.warning("evaluating session %r failed: %s", session_id, e)
            return None, f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(run_one, ids))
    errors = {sid: err for sid, (_, err) in zip(ids, outcomes) if err is not None}
    to_log: list[dict[str, Any]] = []
    for session_id, (result, _) in zip(ids, outcomes):
        if result is None:
            continue
        if result.label is None and result.score is None and result.explanation is None:
            errors[session_id] = "evaluator returned no label, score or explanation"
            continue
        annotation: dict[str, Any] = {
            "session_id": session_id,
            "name": name,
            "annotator_kind": kind,
            "identifier": identifier,
            "metadata": result.metadata,
        }
        for key in ("label", "score", "explanation"):
            if getattr(result, key) is not None:
                annotation[key] = getattr(result, key)
        to_log.append(annotation)
    stored = client.log_session_annotations(project, to_log) if to_log else []
    return EvaluationRun(annotations=stored, errors=errors)


DEFAULT_JUDGE_TEMPLATE = """You are judging a whole conversation between a user and an AI assistant.

Criteria: {criteria}

Conversation:
{transcript}

Answer with one of these labels on the first line: {labels}.
Then, on the next line, write "EXPLANATION:" and a short reason."""

#: The placeholders of a judge's template.
PLACEHOLDERS = ("criteria", "transcript", "labels")
_TEMPLATE_PART = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _format(template: str, values: Mapping[str, str], used: set[str] | None = None) -> str:
    """``str.format`` for our three names only: ``{name}`` replaced, ``{{`` and
    ``}}`` are braces; anything else (another field, a conversion or format
    spec, a single brace) is refused."""

    def replace(match: re.Match[str]) -> str:
        part, placeholder = match.group(0), match.group(1)
        if part == "{{":
            return "{"
        if part == "}}":
            return "}"
        if placeholder is not None and placeholder in PLACEHOLDERS:
            if used is not None:
                used.add(placeholder)
            return values[placeholder]
        if placeholder is None:
            raise ValueError(f"template has a single {json.dumps(part)}: write braces as {{{{ and }}}}")
        raise ValueError(
            f"template has an unknown placeholder {{{placeholder}}}; "
            "the placeholders are {criteria}, {transcript} and {labels}"
        )

    return _TEMPLATE_PART.sub(replace, template)


def _judge_labels(labels: object) -> dict[str, float]:
    """The label → score map of a judge, checked."""
    if labels is None:
        return {"yes": 1.0, "no": 0.0}
    if isinstance(labels, Mapping):
        entries: list[Any] = list(labels.items())
    elif isinstance(labels, (list, tuple)):
        entries = list(labels)
    else:
        raise TypeError(f"labels must be a dict or a list of (label, score) pairs, not {type_name(labels)}")
    if not entries:
        raise ValueError("labels must not be empty")
    checked: dict[str, float] = {}
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        label, score = entry if isinstance(entry, (list, tuple)) and len(entry) == 2 else (None, None)
        if not isinstance(label, str):
            raise TypeError(f"labels[{i}] must be a non-empty string, got {shown(label)}")
        if not label.strip():
            raise ValueError(f"labels[{i}] must be a non-empty string, got {shown(label)}")
        score = finite_number(score, f"labels[{shown(label)}] must be a finite number (its score)")
        other = seen.get(label.lower())
        if other is not None:
            raise ValueError(
                f"labels[{i}] {shown(label)} repeats {shown(other)}: an answer is read in any case"
            )
        seen[label.lower()] = label
        checked[label] = score
    return checked


class LLMJudge:
    """An evaluator that asks an LLM for a verdict on the whole conversation.

    ``complete`` sends a prompt to a model and returns its text answer; bring
    any model and SDK. ``labels`` maps each allowed label to its score (a dict,
    or a list of ``(label, score)`` pairs), listed in the prompt in that order;
    labels must differ in more than case. ``template`` has the placeholders
    ``{criteria}``, ``{transcript}`` and ``{labels}`` (``{{`` and ``}}`` for
    braces, nothing else). The first allowed label on the answer's first line
    (whole word, any case; the longest label first, so ``unresolved`` is never
    read as ``resolved``) wins, with its score, and the text after
    ``EXPLANATION:`` is the explanation. An answer without one gives no label
    or score and the answer as the explanation, marked unparsable in the
    metadata: not guessed.
    """

    annotator_kind = "LLM"

    def __init__(
        self,
        complete: Callable[[str], str],
        *,
        criteria: str,
        labels: Mapping[str, float] | Iterable[tuple[str, float]] | None = None,
        template: str = DEFAULT_JUDGE_TEMPLATE,
        max_transcript_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS,
    ) -> None:
        if not callable(complete):
            raise TypeError(f"complete must be a callable (prompt: str) -> str, not {type_name(complete)}")
        if not isinstance(criteria, str):
            raise TypeError("criteria must be a non-empty string")
        if not criteria.strip():
            raise ValueError("criteria must be a non-empty string")
        checked = _judge_labels(labels)
        if not isinstance(template, str):
            raise TypeError(f"template must be a str, not {type_name(template)}")
        used: set[str] = set()
        _format(template, {p: "" for p in PLACEHOLDERS}, used)  # raises on a malformed template
        for placeholder in PLACEHOLDERS:
            if placeholder not in used:
                raise ValueError(f"template must contain {{{placeholder}}}")
        self.max_transcript_chars = count(max_transcript_chars, "max_transcript_chars", 1)
        self.complete = complete
        self.criteria = criteria
        self.labels = checked
        self.template = template
        # longest first (stable: ties keep their order), so "unresolved" is not
        # read as "resolved"; one group per label tells which one matched
        self._label_order = sorted(checked, key=len, reverse=True)
        alternatives = "|".join(f"({re.escape(label)})" for label in self._label_order)
        self._label_pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)

    def prompt(self, transcript: SessionTranscript) -> str:
        """The prompt sent for a transcript."""
        return _format(
            self.template,
            {
                "criteria": self.criteria,
                "transcript": transcript.text(self.max_transcript_chars),
                "labels": ", ".join(self.labels),
            },
        )

    def parse(self, answer: str) -> EvaluationResult:
        """Reads a verdict from a model's answer (what a call does after ``complete``)."""
        if not isinstance(answer, str):
            raise TypeError(f"complete must return a str, not {type_name(answer)}")
        stripped = answer.strip()
        first_line, _, rest = stripped.partition("\n")
        explanation = rest.strip()
        if explanation.upper().startswith("EXPLANATION:"):
            explanation = explanation[len("EXPLANATION:") :].strip()
        match = self._label_pattern.search(first_line)
        if match is None:
            return EvaluationResult(explanation=stripped or "(empty answer)", metadata={"unparsable": True})
        label = self._label_order[match.lastindex - 1 if match.lastindex else 0]
        return EvaluationResult(label=label, score=self.labels[label], explanation=explanation or None)

    def __call__(self, transcript: SessionTranscript) -> EvaluationResult:
        """Asks the model about a transcript and reads its verdict."""
        return self.parse(self.complete(self.prompt(transcript)))


def error_free(transcript: SessionTranscript) -> EvaluationResult:
    """A code evaluator: the share of turns without an error (label ``clean`` or
    ``had_errors``)."""
    turns = transcript.turns
    if not turns:
        return EvaluationResult(explanation="no turns")
    errored = sum(1 for t in turns if t.get("status") == "error")
    return EvaluationResult(
        label="clean" if errored == 0 else "had_errors",
        score=1.0 - errored / len(turns),
        explanation=f"{errored} of {len(turns)} turns errored",
    )
