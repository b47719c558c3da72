"""LlamaIndex: a chat engine (SimpleChatEngine, the engine keeps the history)
over llama-index-llms-openai, traced by openinference-instrumentation-llama-index;
session and user from using_session / using_user."""

from common import MODEL, OPENAI_BASE_URL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracer_provider
from openinference.instrumentation import using_session, using_user
from openinference.instrumentation.llama_index import LlamaIndexInstrumentor

provider = tracer_provider()
LlamaIndexInstrumentor().instrument(tracer_provider=provider)

from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.llms.openai import OpenAI

engine = SimpleChatEngine.from_defaults(
    llm=OpenAI(model=MODEL, api_base=OPENAI_BASE_URL, temperature=0), system_prompt=SYSTEM_PROMPT
)

for question in QUESTIONS:
    with using_session(SESSION_ID), using_user(USER_ID):
        reply = engine.chat(question)
    print(f"user: {question}\nassistant: {reply.response}")

provider.shutdown()
