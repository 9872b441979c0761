/**
 * The first code a run evaluates in its fresh QuickJS context, before the kernel's. It is one function
 * expression: nothing it declares is visible to kernel code, and it receives the bridge (the worker's
 * native functions) as an argument, so the kernel can only reach the bridge through `ctx`.
 *
 * It closes the ways to generate code at run time (`eval`, the Function constructors, also reached
 * as `(function(){}).constructor`), builds the frozen `ctx`, and returns the two functions the worker
 * calls: `entry()`, `start(main)` and `toJson(value)`. It captures JSON and Object first, so a kernel that
 * replaces them only changes its own view. Whatever the kernel does to its globals stays in this
 * runtime: every run gets a new one, on a heap the host never reads objects from.
 */
export const GUEST_PRELUDE = String.raw`(function (bridge, inputJson, envJson, hostNames) {
  'use strict';
  const G = globalThis;
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const freeze = Object.freeze;
  const defineProperty = Object.defineProperty;
  const call = bridge.call;
  const now = bridge.now;
  const blake3 = bridge.blake3;
  const hex = bridge.hex;
  const randomUUID = bridge.randomUUID;

  delete G.eval;
  const constructors = [
    Function,
    (async function () {}).constructor,
    (function* () {}).constructor,
    (async function* () {}).constructor,
  ];
  for (const Real of constructors) {
    const name = Real.name;
    const refused = function () {
      throw new EvalError(name + ' constructor is disabled in kernels: code cannot be generated at run time');
    };
    defineProperty(refused, 'prototype', { value: Real.prototype });
    defineProperty(refused, 'name', { value: name });
    defineProperty(Real.prototype, 'constructor', { value: refused, writable: false, enumerable: false, configurable: false });
  }
  defineProperty(G, 'Function', { value: Function.prototype.constructor, writable: false, enumerable: false, configurable: false });

  const deepFreeze = function (value) {
    if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) deepFreeze(value[key]);
      freeze(value);
    }
    return value;
  };

  const ctx = {};
  for (const name of hostNames) {
    const hostFunction = async function (...args) {
      return parse(await call(name, stringify(args)));
    };
    defineProperty(hostFunction, 'name', { value: name });
    ctx[name] = hostFunction;
  }
  ctx.input = parse(inputJson);
  ctx.env = deepFreeze(parse(envJson));
  ctx.now = function now_() { return now(); };
  ctx.crypto = freeze({
    blake3: function blake3_(text) { return blake3(text); },
    hex: function hex_(text) { return hex(text); },
    randomUUID: function randomUUID_() { return randomUUID(); },
  });
  freeze(ctx);

  return freeze({
    entry: function entry() { return G.default; },
    start: async function start(main) { return main(ctx); },
    toJson: function toJson(value) {
      if (value === undefined) return 'null';
      const json = stringify(value);
      if (typeof json !== 'string') throw new TypeError('main(ctx) returned a ' + typeof value + ', which has no JSON form');
      return json;
    },
  });
})`;
