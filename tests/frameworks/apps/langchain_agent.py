"""LangChain: a tool-calling agent (create_tool_calling_agent + AgentExecutor,
from langchain-classic since LangChain 1.0) with one tool and the chat history
passed in, traced by openinference-instrumentation-langchain; session and user
from using_session / using_user."""

from common import MODEL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracer_provider
from common import track_parcel as lookup
from openinference.instrumentation import using_session, using_user
from openinference.instrumentation.langchain import LangChainInstrumentor

provider = tracer_provider()
LangChainInstrumentor().instrument(tracer_provider=provider)

from langchain_classic.agents import AgentExecutor, create_tool_calling_agent
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

track_parcel = tool(lookup)
prompt = ChatPromptTemplate.from_messages(
    [
        ("system", SYSTEM_PROMPT),
        MessagesPlaceholder("chat_history"),
        ("human", "{input}"),
        MessagesPlaceholder("agent_scratchpad"),
    ]
)
agent = create_tool_calling_agent(
    ChatOpenAI(model=MODEL, temperature=0, stream_usage=True), [track_parcel], prompt
)
executor = AgentExecutor(agent=agent, tools=[track_parcel])

history: list = []
for question in QUESTIONS:
    with using_session(SESSION_ID), using_user(USER_ID):
        result = executor.invoke({"input": question, "chat_history": history})
    history += [HumanMessage(question), AIMessage(result["output"])]
    print(f"user: {question}\nassistant: {result['output']}")

provider.shutdown()
