// Stands in for @tauri-apps/plugin-opener: the URL the system browser would get is logged.
export async function openUrl(url: string): Promise<void> {
  console.log(`openUrl: ${url}`);
}
