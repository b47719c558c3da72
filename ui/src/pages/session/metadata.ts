// Which metadata keys are the app's and which are a framework's bookkeeping:
// LangGraph's step and checkpoint keys, LangSmith's `ls_*`, and the like are
// copied onto every span by their frameworks and say nothing about the
// conversation, so the session header shows the app's keys first and folds
// these behind "more".

const FRAMEWORK_KEY = [
  /^langgraph_/, // langgraph_step, langgraph_node, langgraph_triggers, langgraph_path, ...
  /^checkpoint_/, // checkpoint_ns, checkpoint_id
  /^ls_/, // LangSmith: ls_provider, ls_model_name, ls_model_type, ls_temperature, ...
  /^__/, // private keys (__pregel_*, ...)
  /^lc_/, // LangChain internals
];

/** Whether a metadata key is a framework's bookkeeping rather than the app's. */
export function isFrameworkKey(key: string): boolean {
  return FRAMEWORK_KEY.some((pattern) => pattern.test(key));
}

/** The metadata entries split into the app's (first) and the frameworks'. */
export function splitMetadata(metadata: Record<string, unknown>): {
  app: [string, unknown][];
  framework: [string, unknown][];
} {
  const entries = Object.entries(metadata);
  return {
    app: entries.filter(([k]) => !isFrameworkKey(k)),
    framework: entries.filter(([k]) => isFrameworkKey(k)),
  };
}
