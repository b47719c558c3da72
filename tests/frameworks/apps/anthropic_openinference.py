"""The Anthropic Python SDK (Messages API, the app keeps the history) traced by
openinference-instrumentation-anthropic; session and user from using_session /
using_user."""

from common import QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracer_provider
from openinference.instrumentation import using_session, using_user
from openinference.instrumentation.anthropic import AnthropicInstrumentor

provider = tracer_provider()
AnthropicInstrumentor().instrument(tracer_provider=provider)

from anthropic import Anthropic

client = Anthropic()
messages: list[dict] = []
for question in QUESTIONS:
    messages.append({"role": "user", "content": question})
    with using_session(SESSION_ID), using_user(USER_ID):
        response = client.messages.create(
            model="claude-sonnet-4-5", max_tokens=512, system=SYSTEM_PROMPT, messages=messages
        )
    reply = "".join(block.text for block in response.content if block.type == "text")
    messages.append({"role": "assistant", "content": reply})
    print(f"user: {question}\nassistant: {reply}")

provider.shutdown()
