/** Jest's default order (slowest first, failed first), except that the chaos suite runs after everything else. */
/* global require, module */
// CommonJS: jest loads the sequencer with require(), before any transform.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sequencer = require("@jest/test-sequencer").default;

const isChaos = (test) => test.context.config.displayName?.name === "chaos";

class ChaosLastSequencer extends Sequencer {
  sort(tests) {
    const order = (sorted) => [...sorted.filter((t) => !isChaos(t)), ...sorted.filter(isChaos)];
    const sorted = super.sort(tests);
    return sorted instanceof Promise ? sorted.then(order) : order(sorted);
  }
}

module.exports = ChaosLastSequencer;
