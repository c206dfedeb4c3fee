// The update bar: what an update check found, its download progress and "Restart to update".
import { h } from "./dom";
import type { UpdateStatus } from "./types";

export type UpdateAction = "install" | "restart" | "dismiss";

/** The bar's words and button for a status; null when there is nothing to say. */
export function updateLine(s: UpdateStatus): { text: string; action: UpdateAction | null; percent: number | null } | null {
  switch (s.state) {
    case "idle":
      return null;
    case "checking":
      return { text: "Checking for updates…", action: null, percent: null };
    case "up_to_date":
      return { text: `Confab ${s.version} is up to date.`, action: "dismiss", percent: null };
    case "available":
      return { text: `Update v${s.version} available`, action: "install", percent: null };
    case "downloading": {
      const percent = s.total ? Math.min(100, Math.floor((s.received * 100) / s.total)) : null;
      const done = percent === null ? `${(s.received / 1_048_576).toFixed(1)} MB` : `${percent} %`;
      return { text: `Downloading v${s.version}… ${done}`, action: null, percent };
    }
    case "ready":
      return { text: `Confab ${s.version} is installed.`, action: "restart", percent: null };
    case "failed":
      return { text: s.message, action: "dismiss", percent: null };
    case "unavailable":
      return { text: s.reason, action: "dismiss", percent: null };
  }
}

const LABELS: Record<UpdateAction, string> = { install: "Update now", restart: "Restart to update", dismiss: "Dismiss" };

export function updateView(s: UpdateStatus, on: (a: UpdateAction) => void): HTMLElement | null {
  const line = updateLine(s);
  if (!line) return null;
  return h(
    "div",
    { id: "update", role: "status", class: s.state },
    h("span", { id: "update-text" }, line.text),
    line.percent !== null ? h("progress", { id: "update-progress", max: 100, value: line.percent }) : null,
    line.action ? h("button", { id: `update-${line.action}`, onclick: () => on(line.action as UpdateAction) }, LABELS[line.action]) : null,
  );
}
