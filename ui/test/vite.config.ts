// The UI over a fake backend (test/fake-tauri), to look at in a browser:
//   npx vite build --config test/vite.config.ts && npx vite preview --config test/vite.config.ts
// It is served with the app's CSP, so a violation shows in the browser's console.
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

const here = (p: string) => decodeURIComponent(new URL(p, import.meta.url).pathname);
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'";

export default defineConfig({
  root: here(".."),
  plugins: [svelte()],
  resolve: {
    alias: {
      "@tauri-apps/api/core": here("fake-tauri/core.ts"),
      "@tauri-apps/api/event": here("fake-tauri/event.ts"),
      "@tauri-apps/plugin-notification": here("fake-tauri/notification.ts"),
      "@tauri-apps/plugin-opener": here("fake-tauri/opener.ts"),
    },
  },
  build: { outDir: "/tmp/confab-ui-fake", emptyOutDir: true, target: "es2022" },
  preview: { port: 4173, strictPort: true, headers: { "Content-Security-Policy": csp } },
});
