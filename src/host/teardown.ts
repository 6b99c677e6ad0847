// Teardown in reverse order that keeps going past a failure and rethrows the
// first error at the end.
import { TeardownError } from '../errors.ts'

export class Teardown {
  private steps: Array<{ label: string; fn: () => Promise<void> | void }> = []

  /** Register an undo step; it runs before the steps registered earlier. */
  push(label: string, fn: () => Promise<void> | void): void {
    this.steps.push({ label, fn })
  }

  /** Run every step once, last first. Safe to call twice. */
  async run(): Promise<void> {
    let first: unknown
    while (this.steps.length) {
      const { label, fn } = this.steps.pop()!
      try {
        await fn()
      } catch (e) {
        first ??= new TeardownError(label, e)
      }
    }
    if (first) throw first
  }
}
