// Human units for the admin pages (the Runners page most): bytes in binary units, times, ages.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;
const ONE_DECIMAL = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** 2147483648 -> "2 GiB", 1610612736 -> "1.5 GiB", 0 -> "0 B". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${ONE_DECIMAL.format(value)} ${UNITS[unit] ?? "B"}`;
}

/** Seconds since something happened, as people say it: "just now", "12 s ago", "3 min ago". */
export function formatAge(seconds: number): string {
  if (seconds < 2) return "just now";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  return `${ONE_DECIMAL.format(seconds / 3600)} h ago`;
}

export function formatTime(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : "—";
}

export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.min(100, Math.max(0, (part / whole) * 100)) : 0;
}
