// A session as a Markdown transcript, for sharing or a dataset: every turn,
// fetched page by page, user and assistant in order.
import { api, query, seg, type Page, type Session, type Turn } from "../../lib/api";

export function transcriptMarkdown(session: Session, turns: Turn[]): string {
  const lines = [
    `# Session ${session.session_id}`,
    "",
    `- project: ${session.project}`,
    `- started: ${session.start_time}`,
    `- turns: ${session.num_traces}`,
  ];
  if (session.user_ids.length) lines.push(`- users: ${session.user_ids.join(", ")}`);
  if (session.tags.length) lines.push(`- tags: ${session.tags.join(", ")}`);
  lines.push("");
  turns.forEach((turn, i) => {
    lines.push(`## Turn ${i + 1} (${turn.start_time}${turn.status === "error" ? ", error" : ""})`, "");
    lines.push(`**${turn.user_id ? `user ${turn.user_id}` : "user"}:**`, "", turn.input?.value ?? "_no input recorded_", "");
    lines.push("**assistant:**", "", turn.output?.value ?? "_no output recorded_", "");
  });
  return lines.join("\n");
}

export async function allTurns(project: string, sessionId: string): Promise<Turn[]> {
  const base = `/v1/projects/${seg(project)}/sessions/${seg(sessionId)}/turns`;
  const turns: Turn[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<Turn> = await api<Page<Turn>>(base + query({ limit: 1000, cursor }));
    turns.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return turns;
}

export function download(filename: string, text: string, type = "text/markdown"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.click();
  URL.revokeObjectURL(url);
}
