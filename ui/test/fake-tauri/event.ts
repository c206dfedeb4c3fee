// Stands in for @tauri-apps/api/event: nothing from the tray in a browser.
export async function listen<T>(_event: string, _handler: (e: { payload: T }) => void): Promise<() => void> {
  return () => {};
}
