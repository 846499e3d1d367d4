/** A log that keeps what it was told, so a test can see what an operator would see. */

export interface LoggedLine {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}

export function recordingLog() {
  const lines: LoggedLine[] = [];
  const at =
    (level: string) =>
    (obj: object, msg = '') => {
      lines.push({ level, msg, obj: obj as Record<string, unknown> });
    };
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}
