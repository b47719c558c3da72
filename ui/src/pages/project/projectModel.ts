// The project page's logic: settings as shown and changed, the stats panel's
// bars, and the annotation config form.
import type { AnnotationConfig, ProjectSettings, ProjectSettingsUpdate } from "../../lib/api";

export type SettingKey = "session_idle" | "retention";

export interface SettingView {
  /** The value in force. */
  effective: string;
  /** Whether that is the server's (no value of the project's own). */
  isDefault: boolean;
  /** The server's, for "back to the default". */
  serverDefault: string;
  /** The project's own, or "". */
  own: string;
}

export function settingView(s: ProjectSettings, key: SettingKey): SettingView {
  const own = key === "session_idle" ? s.session_idle : s.retention;
  return {
    effective: key === "session_idle" ? s.effective_session_idle : s.effective_retention,
    isDefault: own === null || own === undefined,
    serverDefault: key === "session_idle" ? s.default_session_idle : s.default_retention,
    own: own ?? "",
  };
}

/** The PUT body that changes one setting only: a value, or null for the server's default. */
export function settingUpdate(key: SettingKey, text: string | null): ProjectSettingsUpdate {
  const value = text === null || text.trim() === "" ? null : text.trim();
  return { [key]: value };
}

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  value: number;
  label: string;
}

/**
 * Bars of `values` over a width×height box, tallest = full height, oldest left.
 * A bar of a non-zero value is at least 1 px high, so it never vanishes; none
 * is wider than `maxBar` (a lone bucket is a bar, not a block).
 */
export function bars(points: { label: string; value: number }[], width: number, height: number, gap = 1, maxBar = 24): Bar[] {
  if (points.length === 0) return [];
  const max = Math.max(...points.map((p) => p.value), 0);
  const step = width / points.length;
  const w = Math.min(maxBar, Math.max(1, step - gap));
  return points.map((p, i) => {
    const h = max > 0 ? Math.max(p.value > 0 ? 1 : 0, (p.value / max) * height) : 0;
    return { x: i * step, y: height - h, width: w, height: h, value: p.value, label: p.label };
  });
}

/** Each label's count and share, commonest first (ties by label). */
export function labelShares(labels: Record<string, number>): { label: string; count: number; share: number }[] {
  const total = Object.values(labels).reduce((a, b) => a + b, 0);
  return Object.entries(labels)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([label, count]) => ({ label, count, share: total > 0 ? count / total : 0 }));
}

export const WINDOWS: Record<string, number | null> = { "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, all: null };

export interface ConfigDraft {
  name: string;
  type: "categorical" | "continuous" | "freeform";
  description: string;
  /** `label=score` (or a bare label), one a line. */
  values: string;
  lower: string;
  upper: string;
  direction: "maximize" | "minimize" | "none";
}

export function emptyConfigDraft(): ConfigDraft {
  return { name: "", type: "categorical", description: "", values: "good=1\nbad=0", lower: "", upper: "", direction: "maximize" };
}

/** The config the draft describes, or the field at fault (the server checks it again). */
export function configOf(d: ConfigDraft): AnnotationConfig | { field: string; message: string } {
  const name = d.name.trim();
  if (!name) return { field: "name", message: "a name is needed" };
  const config: AnnotationConfig = { name, type: d.type, optimization_direction: d.direction };
  if (d.description.trim()) config.description = d.description.trim();
  if (d.type === "categorical") {
    const values: { label: string; score: number | null }[] = [];
    for (const line of d.values.split("\n")) {
      if (!line.trim()) continue;
      const eq = line.lastIndexOf("=");
      const label = (eq > 0 ? line.slice(0, eq) : line).trim();
      const scoreText = eq > 0 ? line.slice(eq + 1).trim() : "";
      const score = scoreText === "" ? null : Number(scoreText);
      if (score !== null && !Number.isFinite(score)) return { field: "values", message: `the score of "${label}" must be a number` };
      values.push({ label, score });
    }
    config.values = values;
  } else if (d.type === "continuous") {
    for (const [key, text] of [
      ["lower_bound", d.lower],
      ["upper_bound", d.upper],
    ] as const) {
      if (!text.trim()) continue;
      const n = Number(text.trim());
      if (!Number.isFinite(n)) return { field: key, message: "a number" };
      config[key] = n;
    }
  }
  return config;
}

/** How a config reads in a list. */
export function configText(c: AnnotationConfig): string {
  if (c.type === "categorical")
    return (c.values ?? []).map((v) => (v.score === null ? v.label : `${v.label} (${v.score})`)).join(", ");
  if (c.type === "continuous") return `${c.lower_bound ?? "−∞"} to ${c.upper_bound ?? "∞"}`;
  return "free text";
}
