import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

// Tauri serves the built files; no dev server is needed for a build.
export default defineConfig(({ mode }) => ({
  clearScreen: false,
  plugins: [svelte()],
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, sourcemap: false },
  // Component tests mount Svelte's browser build (in jsdom).
  resolve: mode === "test" ? { conditions: ["browser"] } : undefined,
  test: { include: ["src/**/*.test.ts"] },
}));
