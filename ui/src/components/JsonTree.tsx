import { useState } from "react";

/** JSON as a tree whose objects and arrays fold; the first levels open. */
export function JsonTree({ value, name, depth = 0 }: { value: unknown; name?: string; depth?: number }) {
  const [open, setOpen] = useState(depth < 2);
  const label = name !== undefined ? <span className="json-key">{JSON.stringify(name)}: </span> : null;
  if (value === null || typeof value !== "object") {
    const cls = value === null ? "json-null" : `json-${typeof value}`;
    return (
      <div className="json-line">
        {label}
        <span className={cls}>{JSON.stringify(value)}</span>
      </div>
    );
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value as Record<string, unknown>);
  const [openMark, closeMark] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return (
    <div className="json-node">
      <button type="button" className="json-toggle" onClick={() => setOpen(!open)} aria-expanded={open}>
        {open ? "▾" : "▸"}
      </button>
      {label}
      {openMark}
      {!open && (
        <span className="json-summary">
          {" "}
          {entries.length} {Array.isArray(value) ? "items" : "keys"} {closeMark}
        </span>
      )}
      {open && (
        <div className="json-children">
          {entries.map(([k, v]) => (
            <JsonTree key={k} value={v} name={Array.isArray(value) ? undefined : k} depth={depth + 1} />
          ))}
        </div>
      )}
      {open && <div className="json-line">{closeMark}</div>}
    </div>
  );
}
