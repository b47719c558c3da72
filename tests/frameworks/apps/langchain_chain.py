"""LangChain: an LCEL chain with message history (RunnableWithMessageHistory),
traced by openinference-instrumentation-langchain; session and user from
openinference-instrumentation's using_session / using_user."""

from common import MODEL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracer_provider
from openinference.instrumentation import using_session, using_user
from openinference.instrumentation.langchain import LangChainInstrumentor

provider = tracer_provider()
LangChainInstrumentor().instrument(tracer_provider=provider)

from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_openai import ChatOpenAI

prompt = ChatPromptTemplate.from_messages(
    [("system", SYSTEM_PROMPT), MessagesPlaceholder("history"), ("human", "{question}")]
)
histories: dict[str, InMemoryChatMessageHistory] = {}
chat = RunnableWithMessageHistory(
    prompt | ChatOpenAI(model=MODEL, temperature=0, stream_usage=True),
    lambda session_id: histories.setdefault(session_id, InMemoryChatMessageHistory()),
    input_messages_key="question",
    history_messages_key="history",
)

for question in QUESTIONS:
    with using_session(SESSION_ID), using_user(USER_ID):
        reply = chat.invoke({"question": question}, config={"configurable": {"session_id": SESSION_ID}})
    print(f"user: {question}\nassistant: {reply.content}")

provider.shutdown()
