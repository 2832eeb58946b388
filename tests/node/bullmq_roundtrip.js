// BullMQ against the server on 127.0.0.1:<port> (argv[2]): a queue, a worker with a rate
// limiter, a delayed job, a job that fails twice and succeeds on its third attempt (fixed
// backoff), and job events through QueueEvents (XREAD BLOCK on the events stream). Prints one
// JSON line that tests/python/test_bullmq.py compares between ferrocache and redis-server.
const { Queue, Worker, QueueEvents } = require('bullmq');

const port = Number(process.argv[2]);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };

(async () => {
  const queue = new Queue('jobs', { connection });
  await queue.obliterate({ force: true }).catch(() => {});
  const events = new QueueEvents('jobs', { connection });
  await events.waitUntilReady();
  const attempts = {};
  const worker = new Worker(
    'jobs',
    async (job) => {
      attempts[job.name] = (attempts[job.name] || 0) + 1;
      if (job.name === 'flaky' && attempts[job.name] < 3) throw new Error('try again');
      return job.data.a + job.data.b;
    },
    { connection, limiter: { max: 100, duration: 1000 } },
  );
  const jobs = [
    await queue.add('sum', { a: 2, b: 3 }),
    await queue.add('delayed', { a: 1, b: 1 }, { delay: 300 }),
    await queue.add('flaky', { a: 5, b: 5 }, { attempts: 3, backoff: { type: 'fixed', delay: 100 } }),
  ];
  const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 30000)));
  const counts = await queue.getJobCounts('completed', 'failed', 'delayed', 'wait');
  console.log(JSON.stringify({ results, counts, attempts }));
  await worker.close();
  await events.close();
  await queue.close();
})().catch((e) => {
  console.error('ERR', e);
  process.exit(1);
});
