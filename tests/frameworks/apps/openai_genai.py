"""The OpenAI Python SDK (chat completions, the app keeps the history) traced by
opentelemetry-instrumentation-openai-v2, the OpenTelemetry GenAI conventions.

    OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental + content capture
        content in span attributes (gen_ai.input.messages, ...)
    the default (older conventions) + OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true
        content in OTLP log records (events), sent by a LoggerProvider

The instrumentation has no session or user: they go in OpenTelemetry baggage
(session.id, user.id), which the contrib BaggageSpanProcessor copies onto every
span."""

from common import MODEL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, resource, tracer_provider
from opentelemetry import baggage, context
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

provider = tracer_provider(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))
logger_provider = LoggerProvider(resource=resource())
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
set_logger_provider(logger_provider)
OpenAIInstrumentor().instrument(tracer_provider=provider, logger_provider=logger_provider)

from openai import OpenAI

client = OpenAI()
messages: list[dict] = [{"role": "system", "content": SYSTEM_PROMPT}]
for question in QUESTIONS:
    messages.append({"role": "user", "content": question})
    ctx = baggage.set_baggage("user.id", USER_ID, baggage.set_baggage("session.id", SESSION_ID))
    token = context.attach(ctx)
    try:
        reply = client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content
    finally:
        context.detach(token)
    messages.append({"role": "assistant", "content": reply})
    print(f"user: {question}\nassistant: {reply}")

provider.shutdown()
logger_provider.shutdown()
