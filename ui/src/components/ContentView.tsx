import { useMemo, useState } from "react";
import { classify } from "../lib/content";
import { JsonTree } from "./JsonTree";
import { Markdown } from "./Markdown";

const LONG = 1200;

/** An input or output: JSON as a tree, text as Markdown, long text folded. */
export function ContentView({ value, mimeType }: { value: string; mimeType?: string }) {
  const content = useMemo(() => classify(value, mimeType), [value, mimeType]);
  const [expanded, setExpanded] = useState(false);
  if (content.kind === "json") return <JsonTree value={content.value} />;
  const long = content.text.length > LONG;
  const shown = long && !expanded ? `${content.text.slice(0, LONG)}…` : content.text;
  return (
    <div className="content">
      <Markdown text={shown} />
      {long && (
        <button type="button" className="link-button" onClick={() => setExpanded(!expanded)}>
          {expanded ? "show less" : `show more (${content.text.length.toLocaleString()} characters)`}
        </button>
      )}
    </div>
  );
}
