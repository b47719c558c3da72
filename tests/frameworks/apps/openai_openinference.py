"""The OpenAI Python SDK (chat completions, the app keeps the history) traced by
openinference-instrumentation-openai; session and user from using_session /
using_user."""

from common import MODEL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracer_provider
from openinference.instrumentation import using_session, using_user
from openinference.instrumentation.openai import OpenAIInstrumentor

provider = tracer_provider()
OpenAIInstrumentor().instrument(tracer_provider=provider)

from openai import OpenAI

client = OpenAI()
messages: list[dict] = [{"role": "system", "content": SYSTEM_PROMPT}]
for question in QUESTIONS:
    messages.append({"role": "user", "content": question})
    with using_session(SESSION_ID), using_user(USER_ID):
        reply = client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content
    messages.append({"role": "assistant", "content": reply})
    print(f"user: {question}\nassistant: {reply}")

provider.shutdown()
