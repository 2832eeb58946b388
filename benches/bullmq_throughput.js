// BullMQ jobs per second through one worker: N jobs added in bulk, then timed from the worker's
// start until the last one completes. Usage: node benches/bullmq_throughput.js PORT [N]
// (run from tests/node's package: NODE_PATH=tests/node/node_modules). benches/bullmq.sh runs it
// against ferrocache and redis-server in the same run.
const { Queue, Worker } = require('bullmq');

const port = Number(process.argv[2]);
const n = Number(process.argv[3] || 5000);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };

(async () => {
  const queue = new Queue('bench', { connection });
  await queue.obliterate({ force: true }).catch(() => {});
  const batch = [];
  for (let i = 0; i < n; i++) batch.push({ name: 'job', data: { i } });
  for (let i = 0; i < n; i += 500) await queue.addBulk(batch.slice(i, i + 500));
  let done = 0;
  const started = process.hrtime.bigint();
  await new Promise((resolve) => {
    const worker = new Worker('bench', async (job) => job.data.i, { connection, concurrency: 1 });
    worker.on('completed', async () => {
      if (++done === n) {
        const secs = Number(process.hrtime.bigint() - started) / 1e9;
        console.log(`${n} jobs in ${secs.toFixed(2)} s: ${(n / secs).toFixed(0)} jobs/s`);
        await worker.close();
        resolve();
      }
    });
  });
  await queue.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
