import { useEffect, useRef, useState, type ReactNode } from "react";

/**
 * Renders only the rows in view (plus a margin) of a long list of fixed-height
 * rows, inside its own scrolling box. `onNearEnd` asks for the next page.
 */
export function VirtualList<T>({
  items,
  rowHeight,
  height,
  renderRow,
  onNearEnd,
  header,
}: {
  items: T[];
  rowHeight: number;
  height: number;
  renderRow: (item: T, index: number) => ReactNode;
  onNearEnd?: () => void;
  header?: ReactNode;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const overscan = 10;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  useEffect(() => {
    if (onNearEnd && last >= items.length - overscan) onNearEnd();
  }, [last, items.length, onNearEnd]);
  return (
    <div
      ref={box}
      className="virtual-box"
      style={{ height, overflowY: "auto" }}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      role="table"
    >
      {header}
      <div style={{ height: items.length * rowHeight, position: "relative" }} role="rowgroup">
        {items.slice(first, last).map((item, i) => (
          <div
            key={first + i}
            role="row"
            className="virtual-row"
            style={{ position: "absolute", top: (first + i) * rowHeight, height: rowHeight, left: 0, right: 0 }}
          >
            {renderRow(item, first + i)}
          </div>
        ))}
      </div>
    </div>
  );
}
