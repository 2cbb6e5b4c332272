export type Name = string;

export function greet(name: Name, loud: boolean = false): string {
  if (name === '') {
    throw new Error('greet: empty name');
  }
  return loud ? `HELLO ${name.toUpperCase()}` : `hello ${name}`;
}

export class Counter {
  #n: number = 0;
  next(): number {
    return ++this.#n;
  }
}
