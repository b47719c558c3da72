import { useMemo } from "react";
import { renderMarkdown } from "../lib/content";

/** Markdown from an LLM, rendered and sanitized (see renderMarkdown). */
export function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}
