import { classify, renderMarkdown } from "./content";

describe("LLM content", () => {
  it("shows JSON objects as JSON and everything else as text", () => {
    expect(classify('{"a": [1, 2]}')).toEqual({ kind: "json", value: { a: [1, 2] } });
    expect(classify("[1]", "application/json").kind).toBe("json");
    expect(classify("{not json").kind).toBe("text");
    expect(classify("42", "application/json").kind).toBe("text");
  });

  it("renders Markdown", () => {
    const html = renderMarkdown("**bold** and `code`\n\n- item");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
    expect(html).toContain("<li>item</li>");
  });

  it("removes scripts, event handlers, javascript: links and foreign embeds", () => {
    const hostile = [
      "<script>window.pwned = 1</script>",
      '<img src=x onerror="window.pwned = 2">',
      "[click](javascript:alert(1))",
      '<iframe src="https://evil.example"></iframe>',
      '<a href="https://ok.example" onclick="x()">ok</a>',
      '<svg><script>alert(1)</script></svg>',
      '<style>body{display:none}</style>',
    ].join("\n\n");
    const html = renderMarkdown(hostile);
    const doc = new DOMParser().parseFromString(html, "text/html");
    expect(doc.querySelectorAll("script, iframe, img, svg, style").length).toBe(0);
    for (const el of Array.from(doc.querySelectorAll("*"))) {
      for (const attr of Array.from(el.attributes)) expect(attr.name.startsWith("on")).toBe(false);
    }
    const links = Array.from(doc.querySelectorAll("a"));
    expect(links.map((a) => a.getAttribute("href"))).toEqual([null, "https://ok.example"]);
    expect(links.every((a) => a.getAttribute("rel")?.includes("noopener"))).toBe(true);
  });
});
