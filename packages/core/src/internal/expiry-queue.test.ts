import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { popExpiring, pushExpiring, rebuildExpiring } from "./expiry-queue.js";

describe("the expiry queue", () => {
  it("gives items back earliest expiry first, however they were pushed and popped", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined })), (steps) => {
        // A number pushes an item expiring then; `undefined` pops one. The model: a sorted list.
        const queue: { expiresAt: number }[] = [];
        let model: number[] = [];
        for (const step of steps) {
          if (step === undefined) {
            expect(popExpiring(queue)?.expiresAt).toBe(model.shift());
          } else {
            pushExpiring(queue, { expiresAt: step });
            model = [...model, step].sort((a, b) => a - b);
          }
          expect(queue.length).toBe(model.length);
        }
      }),
    );
  });

  it("rebuilt from any items, holds exactly those and gives them back earliest first, pushes and pops included", () => {
    const expiry = fc.integer({ min: 0, max: 50 });
    fc.assert(
      fc.property(fc.array(expiry), fc.array(fc.option(expiry, { nil: undefined })), (initial, steps) => {
        // Items in any order (as a store's entries come, least recently used first).
        const items = initial.map((expiresAt, index) => ({ expiresAt, index }));
        const queue = rebuildExpiring(items);
        expect(queue).not.toBe(items);
        expect(new Set(queue)).toEqual(new Set(items));
        expect(queue).toHaveLength(items.length);
        let model = [...initial].sort((a, b) => a - b);
        for (const step of steps) {
          if (step === undefined) {
            expect(popExpiring(queue)?.expiresAt).toBe(model.shift());
          } else {
            pushExpiring(queue, { expiresAt: step, index: -1 });
            model = [...model, step].sort((a, b) => a - b);
          }
        }
        while (model.length > 0) expect(popExpiring(queue)?.expiresAt).toBe(model.shift());
        expect(popExpiring(queue)).toBeUndefined();
      }),
    );
  });
});
