import { defineConfig } from "vite";

// Tauri serves the built files; no dev server is needed for a build.
export default defineConfig({
  clearScreen: false,
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, sourcemap: false },
});
