"""Pydantic AI: an agent with a tool over the OpenAI chat model, traced by
Pydantic AI's own OpenTelemetry instrumentation (Agent.instrument_all()). The
session is Pydantic AI's `conversation_id` (emitted as gen_ai.conversation.id);
Pydantic AI has no user id: it goes in the run's `metadata`."""

from common import MODEL, OPENAI_BASE_URL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracer_provider
from common import track_parcel as lookup

provider = tracer_provider()

from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

Agent.instrument_all()
agent = Agent(
    OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=OPENAI_BASE_URL, api_key="sk-fake")),
    instructions=SYSTEM_PROMPT,
    tools=[lookup],
)

history = None
for question in QUESTIONS:
    result = agent.run_sync(
        question, message_history=history, conversation_id=SESSION_ID, metadata={"user_id": USER_ID}
    )
    history = result.all_messages()
    print(f"user: {question}\nassistant: {result.output}")

provider.shutdown()
