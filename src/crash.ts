// Crash points for fault drills: CLOUD_SAFETY_CRASH_AT=<name>[,<name>…] kills the process at that step boundary.
let armed: ReadonlySet<string> = new Set();

/** Called once by the composition root with the env value; nothing is armed otherwise. */
export function armCrashPoints(spec: string | undefined): void {
  armed = new Set(
    (spec ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** Dies here, as abruptly as a SIGKILL, when this point is armed; a no-op otherwise. */
export function crashPoint(name: string): void {
  if (!armed.has(name)) return;
  process.stderr.write(`cloud-safety: crash point ${name} reached, killing the process\n`);
  process.kill(process.pid, 'SIGKILL');
}
