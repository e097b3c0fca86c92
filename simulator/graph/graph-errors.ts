/** A Graph error answer: status, `error.code`, `error.message` and extra headers. */
export class GraphError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
    readonly headers: Record<string, string> = {},
  ) {}
}
