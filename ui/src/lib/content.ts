// What a piece of LLM content is, so it is shown the right way: JSON as a
// collapsible tree, anything else as sanitized Markdown.
import DOMPurify from "dompurify";
import { marked } from "marked";

export type Content = { kind: "json"; value: unknown } | { kind: "text"; text: string };

export function classify(value: string, mimeType?: string): Content {
  const trimmed = value.trim();
  const looksJson = mimeType === "application/json" || trimmed.startsWith("{") || trimmed.startsWith("[");
  if (looksJson) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed !== null && typeof parsed === "object") return { kind: "json", value: parsed };
    } catch {
      // not JSON after all: text
    }
  }
  return { kind: "text", text: value };
}

// LLM output is untrusted: Markdown is rendered, then everything that could
// run code or load content from elsewhere is removed.
const ALLOWED_TAGS = [
  "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
  "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "span",
];

let hooked = false;

export function renderMarkdown(text: string): string {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        const href = node.getAttribute("href") ?? "";
        if (!/^(https?:|mailto:|#|\/)/i.test(href)) node.removeAttribute("href");
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
    hooked = true;
  }
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ["href", "title", "target", "rel", "colspan", "rowspan", "align"],
    ALLOW_DATA_ATTR: false,
  });
}
