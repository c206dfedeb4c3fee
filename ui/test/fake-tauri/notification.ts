// Stands in for @tauri-apps/plugin-notification: notifications are logged.
export const isPermissionGranted = async () => true;
export const requestPermission = async () => "granted";
export function sendNotification(n: { title: string; body?: string }): void {
  console.log(`notification: ${n.title} — ${n.body ?? ""}`);
}
