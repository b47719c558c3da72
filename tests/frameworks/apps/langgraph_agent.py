"""LangGraph: the prebuilt ReAct agent (create_react_agent) with one tool and
an in-memory checkpointer, the conversation keyed by `thread_id` in the config
(as LangGraph apps do; openinference-instrumentation-langchain reads it from the
run's metadata as the session id), the user with using_user, traced by
openinference-instrumentation-langchain."""

from common import MODEL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracer_provider
from common import track_parcel as lookup
from openinference.instrumentation import using_user
from openinference.instrumentation.langchain import LangChainInstrumentor

provider = tracer_provider()
LangChainInstrumentor().instrument(tracer_provider=provider)

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import create_react_agent

agent = create_react_agent(
    ChatOpenAI(model=MODEL, temperature=0, stream_usage=True),
    [tool(lookup)],
    prompt=SYSTEM_PROMPT,
    checkpointer=InMemorySaver(),
)
config = {"configurable": {"thread_id": SESSION_ID, "user_id": USER_ID}}

for question in QUESTIONS:
    with using_user(USER_ID):
        state = agent.invoke({"messages": [{"role": "user", "content": question}]}, config)
    print(f"user: {question}\nassistant: {state['messages'][-1].content}")

provider.shutdown()
