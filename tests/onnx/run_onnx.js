// Runs an ONNX file in ONNX Runtime (the npm package onnxruntime-node, CPU), for nabla's ONNX
// export tests. ORT_NODE_MODULES names the node_modules folder that holds onnxruntime-node
// (`make ort` installs it into build/ort/node_modules).
//
//   node run_onnx.js logits MODEL INPUT.f32 N C H W OUT.f32
//     the model's outputs for N inputs (N, C, H, W) of raw float32, written as raw float32
//   node run_onnx.js accuracy MODEL TEST_BATCH.bin
//     the test accuracy on a CIFAR-10 binary batch (label byte, then 3072 pixel bytes, R, G, B
//     planes), raw pixel values in; prints "test_acc=0.xxxx images=N"
'use strict';
const fs = require('fs');
const path = require('path');

function fail(message) {
  process.stderr.write(`run_onnx.js: ${message}\n`);
  process.exit(1);
}

const modules = process.env.ORT_NODE_MODULES;
if (!modules) fail('ORT_NODE_MODULES is not set');
const ort = require(path.join(modules, 'onnxruntime-node'));

async function outputs(session, data, dims) {
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, dims)};
  const result = await session.run(feeds);
  return result[session.outputNames[0]];
}

// Runs n examples of `size` floats in chunks; calls done(first, tensor) for each chunk.
async function in_chunks(session, all, n, exampleDims, done) {
  const size = exampleDims.reduce((a, b) => a * b, 1);
  const chunk = 500;
  for (let first = 0; first < n; first += chunk) {
    const count = Math.min(chunk, n - first);
    const data = all.subarray(first * size, (first + count) * size);
    done(first, await outputs(session, data, [count, ...exampleDims]));
  }
}

async function main() {
  const [mode, model, ...rest] = process.argv.slice(2);
  if (!mode || !model) fail('usage: logits|accuracy MODEL ...');
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 2});
  if (mode === 'logits') {
    const [input, n, c, h, w, out] = rest;
    const bytes = fs.readFileSync(input);
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    const dims = [Number(c), Number(h), Number(w)];
    const parts = [];
    await in_chunks(session, all, Number(n), dims, (first, y) => parts.push(Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength)));
    fs.writeFileSync(out, Buffer.concat(parts));
  } else if (mode === 'accuracy') {
    const bytes = fs.readFileSync(rest[0]);
    const record = 1 + 3072;
    if (bytes.length % record !== 0) fail(`${rest[0]}: not a CIFAR-10 binary batch`);
    const n = bytes.length / record;
    const images = new Float32Array(n * 3072);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; ++i) {
      labels[i] = bytes[i * record];
      for (let k = 0; k < 3072; ++k) images[i * 3072 + k] = bytes[i * record + 1 + k];
    }
    let correct = 0;
    await in_chunks(session, images, n, [3, 32, 32], (first, y) => {
      const classes = y.dims[1];
      for (let i = 0; i < y.dims[0]; ++i) {
        let best = 0;
        for (let k = 1; k < classes; ++k) {
          if (y.data[i * classes + k] > y.data[i * classes + best]) best = k;
        }
        if (best === labels[first + i]) ++correct;
      }
    });
    console.log(`test_acc=${(correct / n).toFixed(4)} images=${n}`);
  } else {
    fail(`unknown mode '${mode}'`);
  }
}

main().catch((e) => fail(e.message));
