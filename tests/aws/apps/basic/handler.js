// Node.js handlers in the styles Lambda accepts: async, callback, throwing.
module.exports.handle = async (event, context) => ({
  got: event,
  fn: context.functionName,
  endpoint: process.env.AWS_ENDPOINT_URL,
});

module.exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { n: event.n * 2 }), 10);
};

module.exports.broken = async () => {
  throw new TypeError("nope");
};
