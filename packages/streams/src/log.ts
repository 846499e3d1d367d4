/** The logging surface this package needs; a pino logger satisfies it. */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A log that drops everything: for tools whose own output says what matters. */
export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
