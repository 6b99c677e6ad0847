// Bad use of the command line: printed as one line with the command's usage.
import { XclusterError } from '../errors.ts'

export class CliUsageError extends XclusterError {}
