// Starts s3rver (installed by tests/s3rver/setup.sh into .cache/s3rver/) on 127.0.0.1, on a free
// port, storing into a directory, with the buckets named on the command line; prints the port
// on the first line of stdout and serves until killed. s3rver accepts the access key S3RVER
// (secret S3RVER) and does not check Signature V4: the signer has its own test vectors.
//
// Usage: node --openssl-legacy-provider tests/s3rver/start.js [--vhost] DIRECTORY [BUCKET...]
// --vhost: a request to host B.localhost goes to bucket "B.localhost" (s3rver's vhostBuckets),
// which lets a test see a virtual-host-style request arrive without DNS.
// (s3rver's continuation tokens use a cipher OpenSSL 3 moved to its legacy provider: without the
// flag, the second page of a listing fails.)
'use strict';
const path = require('path');
const modules = process.env.CAIRN_S3RVER_MODULES ||
    path.join(__dirname, '..', '..', '.cache', 's3rver', 'node_modules');
const S3rver = require(path.join(modules, 's3rver'));

const args = process.argv.slice(2);
const vhost = args[0] === '--vhost';
if (vhost) args.shift();
const [directory, ...buckets] = args;
if (!directory) {
    console.error('usage: start.js DIRECTORY [BUCKET...]');
    process.exit(2);
}
const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: vhost,
    configureBuckets: buckets.map((name) => ({ name })),
});
server.run().then(
    (address) => {
        process.stdout.write(`${address.port}\n`);
    },
    (err) => {
        console.error(`s3rver: ${err.message}`);
        process.exit(1);
    },
);
for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => server.close(() => process.exit(0)));
}
