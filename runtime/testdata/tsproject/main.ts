// A multi-file TypeScript project: modules, a JSON import, top-level await.
import { greet, Counter } from './lib/greet';
import config from './config.json';
import { Buffer } from 'buffer';

interface Options { loud?: boolean }
const opts: Options = { loud: config.loud };
const ticks: number = await new Promise<number>((resolve) => setTimeout(() => resolve(2), 1));
const counter = new Counter();
counter.next();
console.log(greet(config.name, opts?.loud), counter.next() + ticks, Buffer.from('hi').toString('base64'));
const { first, ...rest } = { first: 1, second: config.items?.[1] ?? 0 };
console.log('rest', JSON.stringify(rest), first);
if (args[0] === 'throw') {
  greet('', true);
}
