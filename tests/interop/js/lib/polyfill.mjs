// Node 20 lacks Promise.withResolvers (added in Node 22). The lockfile's
// transitive deps of libp2p 2.10.0 (it-queue, via @libp2p/peer-store ->
// mortice) call it at runtime, so every script imports this module FIRST
// (ES module imports are evaluated in order, so it runs before libp2p loads).
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
