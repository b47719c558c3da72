// Moving between sessions from a session page (`[` / `]`): the sessions list
// remembers the ids it showed, in its order, for its project; a session page
// steps through them. Kept in sessionStorage: one tab's list, gone with the tab.

const KEY = "oi-sessions.session-list";

export interface SessionList {
  project: string;
  /** The list's URL (path and query), to go back to it. */
  list: string;
  ids: string[];
}

export function rememberSessionList(value: SessionList, storage: Pick<Storage, "setItem"> | null = safeStorage()): void {
  try {
    storage?.setItem(KEY, JSON.stringify(value));
  } catch {
    // storage full or disabled: moving between sessions falls back to the project's newest
  }
}

export function rememberedSessionList(project: string, storage: Pick<Storage, "getItem"> | null = safeStorage()): SessionList | null {
  try {
    const raw = storage?.getItem(KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as SessionList;
    if (value.project !== project || !Array.isArray(value.ids)) return null;
    return value;
  } catch {
    return null;
  }
}

/** The session `step` places from `current` in `ids` (1 next, -1 previous), or null at an end or when absent. */
export function neighbor(ids: string[], current: string, step: 1 | -1): string | null {
  const i = ids.indexOf(current);
  if (i < 0) return null;
  return ids[i + step] ?? null;
}

function safeStorage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

let emoji: boolean | undefined;

/**
 * Whether this browser draws emoji in colour (an emoji font is installed):
 * a 👍 drawn on a canvas leaves coloured pixels. Without one the thumbs show
 * text alone ("Good" / "Bad"), never an empty box.
 */
export function emojiSupported(): boolean {
  if (emoji !== undefined) return emoji;
  emoji = false;
  try {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 20;
    const ctx = canvas.getContext("2d");
    if (!ctx) return emoji;
    ctx.textBaseline = "top";
    ctx.font = "16px sans-serif";
    ctx.fillText("\u{1F44D}", 0, 0);
    const data = ctx.getImageData(0, 0, 20, 20).data;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
      // a colour glyph has pixels that are neither transparent nor grey
      if (a > 0 && (Math.abs(r - g) > 20 || Math.abs(g - b) > 20)) {
        emoji = true;
        break;
      }
    }
  } catch {
    emoji = false;
  }
  return emoji;
}
