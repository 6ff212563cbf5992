// Worker thread of the anti-spam benchmark's Bulwark leg (bench/spam-bulwark.mjs): builds its
// own engine from the built library (dist/host/spam/engine.js, network checks off) and either
// trains the Bayes database with learn() (the trainer) or classifies the messages it is sent
// with the full local pipeline (parse + rules + tokenize + Bayes). The library is only ever
// loaded here, so a library that fails to load fails this thread, not the benchmark's peers.
// Talks only to its parent through messages; writes only the Bayes database (when training);
// any error is posted back and fails the Bulwark leg.
import { parentPort, workerData } from "node:worker_threads";

const { engineUrl, loadUrl, cfgFile } = workerData;
let engine;
let batch = [];

async function classify(raws) {
  const out = new Array(raws.length);
  for (let i = 0; i < raws.length; i++) {
    const r = await engine.classify(raws[i], {});
    out[i] = { status: r.status, score: r.score, names: r.reasons.map((x) => x.name), skipped: r.skipped };
  }
  return out;
}

async function handle(msg) {
  switch (msg.type) {
    case "start": {
      const { loadConfig } = await import(loadUrl);
      const { createSpamEngine } = await import(engineUrl);
      const loaded = loadConfig(cfgFile);
      if (loaded.globalErrors.length) throw new Error(`config: ${loaded.globalErrors.map((e) => e.reason).join("; ")}`);
      engine = await createSpamEngine({ config: loaded.config, log: () => {}, network: false });
      return {};
    }
    case "learn": { // the training, timed here: learn() over the messages in order
      const outcomes = {};
      const items = msg.items.map((x) => ({ raw: Buffer.from(x.raw.buffer, x.raw.byteOffset, x.raw.byteLength), cls: x.cls }));
      const cpu0 = process.cpuUsage(); // the whole process; the other threads are idle meanwhile
      const t0 = process.hrtime.bigint();
      for (const x of items) {
        const o = await engine.learn(x.raw, x.cls);
        outcomes[o.outcome] = (outcomes[o.outcome] ?? 0) + 1;
      }
      const cpu = process.cpuUsage(cpu0);
      return { outcomes, seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuS: (cpu.user + cpu.system) / 1e6 };
    }
    case "load": // the messages arrive before the clock starts, so copying them is not timed
      batch = msg.raws.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
      return { count: batch.length };
    case "run":
      return { results: await classify(batch) };
    case "stop":
      engine?.close?.();
      return {};
    default:
      throw new Error(`unknown message ${msg.type}`);
  }
}

parentPort.on("message", (msg) => {
  handle(msg).then(
    (reply) => parentPort.postMessage({ id: msg.id, ok: true, ...reply }),
    (e) => parentPort.postMessage({ id: msg.id, ok: false, error: String(e?.stack ?? e) }),
  );
});
