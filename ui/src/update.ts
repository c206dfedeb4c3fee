// The update bar: what an update check found, its download progress and "Restart to update".
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

/** The bar's button words. */
export const UPDATE_LABELS: Record<UpdateAction, string> = { install: "Update now", restart: "Restart to update", dismiss: "Dismiss" };
