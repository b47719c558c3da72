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
an :class:`EvaluationResult` (or a dict with ``label``/``score``/``explanation``,
or ``None`` to skip the session). Results are logged as annotations named
``name``, with ``annotator_kind`` ``CODE`` (``LLM`` for :class:`LLMJudge`), and
replace the previous run's verdict on the same session (same name and
``identifier``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .client import SessionsClient

logger = logging.getLogger("openinference.instrumentation.session.evals")

#: How much conversation an LLM judge is shown, at most (the end is kept).
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

    def text(self, max_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS) -> str:
        """The conversation as ``role: content`` lines; when longer than
        ``max_chars``, the start is cut (the end is where a session is decided)."""
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
    sessions whose evaluation failed (session id → error message)."""

    annotations: list[dict[str, Any]]
    errors: dict[str, str]


def session_transcript(client: SessionsClient, project: str, session_id: str) -> SessionTranscript:
    """Reads a session and its turns and builds the conversation."""
    session = client.get_session(project, session_id)
    turns = client.get_turns(project, session_id)
    messages: list[Message] = []
    for turn in turns:
        if turn.get("input"):
            messages.append(Message("user", turn["input"]["value"]))
        if turn.get("output"):
            messages.append(Message("assistant", turn["output"]["value"]))
    return SessionTranscript(project, session_id, session, turns, messages)


def _as_result(value: EvaluationResult | Mapping[str, Any]) -> EvaluationResult:
    if isinstance(value, EvaluationResult):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"label", "score", "explanation", "metadata"}
        if unknown:
            raise ValueError(f"evaluator returned unknown keys {sorted(unknown)}")
        return EvaluationResult(
            label=value.get("label"),
            score=value.get("score"),
            explanation=value.get("explanation"),
            metadata=dict(value.get("metadata") or {}),
        )
    raise TypeError(f"evaluator must return an EvaluationResult, a dict or None, not {type(value).__name__}")


def evaluate_sessions(
    client: SessionsClient,
    project: str,
    evaluator: Evaluator,
    *,
    name: str,
    session_ids: Iterable[str] | None = None,
    annotator_kind: str | None = None,
    identifier: str = "",
    max_workers: int = 4,
    **filters: Any,
) -> EvaluationRun:
    """Evaluates sessions of ``project`` and stores each verdict as an annotation
    named ``name``.

    The sessions are ``session_ids``, or every session matching ``filters`` (the
    session list's filters: ``user_id``, ``tag``, ``min_traces``, ``start_time``,
    ``metadata={...}``, ...). Evaluators run on ``max_workers`` threads (LLM judges
    wait on the network). A session whose evaluator raises is reported in
    ``errors`` and does not stop the others.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string")
    kind = annotator_kind or getattr(evaluator, "annotator_kind", "CODE")
    if kind not in ("HUMAN", "LLM", "CODE"):
        raise ValueError(f"annotator_kind must be HUMAN, LLM or CODE, got {kind!r}")
    ids = (
        list(session_ids)
        if session_ids is not None
        else [s["session_id"] for s in client.iter_sessions(project, **filters)]
    )

    def run_one(session_id: str) -> tuple[str, EvaluationResult | None, str | None]:
        try:
            transcript = session_transcript(client, project, session_id)
            value = evaluator(transcript)
            return session_id, None if value is None else _as_result(value), None
        except Exception as e:  # noqa: BLE001 - one session's failure is reported, not fatal
            logger.warning("evaluating session %r failed: %s", session_id, e)
            return session_id, None, f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        outcomes = list(pool.map(run_one, ids))
    errors = {sid: err for sid, _, err in outcomes if err is not None}
    to_log = []
    for session_id, result, _ in outcomes:
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


class LLMJudge:
    """An evaluator that asks an LLM for a verdict on the whole conversation.

    ``complete`` sends a prompt to a model and returns its text answer; bring
    any model and SDK. ``labels`` maps each allowed label to its score. The
    first label found on the answer's first line (whole word, any case) wins;
    an answer without one gives no label or score and the answer as the
    explanation, marked unparsable in the metadata.
    """

    annotator_kind = "LLM"

    def __init__(
        self,
        complete: Callable[[str], str],
        *,
        criteria: str,
        labels: Mapping[str, float] | None = None,
        template: str = DEFAULT_JUDGE_TEMPLATE,
        max_transcript_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS,
    ) -> None:
        if not callable(complete):
            raise TypeError("complete must be a callable (prompt: str) -> str")
        if not isinstance(criteria, str) or not criteria.strip():
            raise ValueError("criteria must be a non-empty string")
        self.labels = dict(labels or {"yes": 1.0, "no": 0.0})
        if not self.labels:
            raise ValueError("labels must not be empty")
        for placeholder in ("{criteria}", "{transcript}", "{labels}"):
            if placeholder not in template:
                raise ValueError(f"template must contain {placeholder}")
        self.complete = complete
        self.criteria = criteria
        self.template = template
        self.max_transcript_chars = max_transcript_chars
        # longest first, so "unresolved" is not read as "resolved"
        alternatives = "|".join(re.escape(label) for label in sorted(self.labels, key=len, reverse=True))
        self._label_pattern = re.compile(rf"\b({alternatives})\b", re.IGNORECASE)

    def prompt(self, transcript: SessionTranscript) -> str:
        """The prompt sent for a transcript."""
        return self.template.format(
            criteria=self.criteria,
            transcript=transcript.text(self.max_transcript_chars),
            labels=", ".join(self.labels),
        )

    def __call__(self, transcript: SessionTranscript) -> EvaluationResult:
        answer = self.complete(self.prompt(transcript))
        if not isinstance(answer, str):
            raise TypeError(f"complete must return a str, not {type(answer).__name__}")
        first_line, _, rest = answer.strip().partition("\n")
        match = self._label_pattern.search(first_line)
        explanation = rest.strip()
        if explanation.upper().startswith("EXPLANATION:"):
            explanation = explanation[len("EXPLANATION:") :].strip()
        if match is None:
            return EvaluationResult(
                explanation=answer.strip() or "(empty answer)", metadata={"unparsable": True}
            )
        label = next(k for k in self.labels if k.lower() == match.group(1).lower())
        return EvaluationResult(label=label, score=self.labels[label], explanation=explanation or None)


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
