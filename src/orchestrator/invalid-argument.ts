/**
 * A request field that is not acceptable: the handler answers INVALID_ARGUMENT with this
 * message, which starts with the field's name (`filter.states[1]: …`, `page_token: …`).
 */
export class InvalidArgument extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgument';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
