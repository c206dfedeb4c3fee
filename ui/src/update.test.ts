import { describe, expect, it } from "vitest";
import { updateLine } from "./update";

describe("the update bar", () => {
  it("offers an available update, then shows progress, then a restart", () => {
    expect(updateLine({ state: "available", version: "0.2.0", notes: null })).toMatchObject({
      text: "Update v0.2.0 available",
      action: "install",
    });
    expect(updateLine({ state: "downloading", version: "0.2.0", received: 512, total: 2048 })).toEqual({
      text: "Downloading v0.2.0… 25 %",
      action: null,
      percent: 25,
    });
    expect(updateLine({ state: "ready", version: "0.2.0" })?.action).toBe("restart");
  });

  it("counts megabytes when the size is unknown", () => {
    expect(updateLine({ state: "downloading", version: "1.0.0", received: 3_145_728, total: null })?.text).toBe(
      "Downloading v1.0.0… 3.0 MB",
    );
  });

  it("shows a refusal in the backend's words, and nothing when idle", () => {
    const message = "The update is not signed with Confab's release key, so it was not installed.";
    expect(updateLine({ state: "failed", message })).toMatchObject({ text: message, action: "dismiss" });
    expect(updateLine({ state: "idle" })).toBeNull();
  });
});
