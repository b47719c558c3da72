"""OpenAI Agents SDK: an agent with a function tool, the conversation kept by an
SDK session (SQLiteSession, in memory), traced by
openinference-instrumentation-openai-agents (which replaces the SDK's own
trace exporter). The SDK groups a conversation's traces with `group_id`; the
OpenInference session and user come from using_session / using_user."""

import asyncio

from common import MODEL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracer_provider
from common import track_parcel as lookup
from openinference.instrumentation import using_session, using_user
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

provider = tracer_provider()
OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)

from agents import Agent, RunConfig, Runner, SQLiteSession, function_tool

agent = Agent(name="Parcel assistant", instructions=SYSTEM_PROMPT, model=MODEL, tools=[function_tool(lookup)])


async def main() -> None:
    session = SQLiteSession(SESSION_ID)
    for question in QUESTIONS:
        with using_session(SESSION_ID), using_user(USER_ID):
            result = await Runner.run(
                agent, question, session=session, run_config=RunConfig(group_id=SESSION_ID)
            )
        print(f"user: {question}\nassistant: {result.final_output}")


asyncio.run(main())
provider.shutdown()
