// Drives a hub's /ngsi-ld/v1 with ngsijs, the FIWARE NGSI-LD client library.
//
//   node drive.js BASE_URL TOKEN < calls.json
//
// calls.json is a list of {"op": "<ngsijs ld method>", "args": [...]}; the
// answer on stdout is one entry per call, in order: {"ok": <what the library
// resolved with>} or {"error": <the library's error class>, "message": ...}.
"use strict";

const NGSI = require("ngsijs");

const OPS = new Set([
    "queryEntities",
    "getEntity",
    "listTypes",
    "getType",
    "queryTemporalEntities",
    "createSubscription",
    "getSubscription",
    "listSubscriptions",
    "deleteSubscription",
]);

async function main() {
    const [base, token] = process.argv.slice(2);
    const connection = new NGSI.Connection(base, {
        headers: token ? {Authorization: `Bearer ${token}`} : {},
    });
    let input = "";
    for await (const chunk of process.stdin) {
        input += chunk;
    }
    const answers = [];
    for (const call of JSON.parse(input)) {
        if (!OPS.has(call.op)) {
            throw new TypeError(`unknown op ${call.op}`);
        }
        try {
            const result = await connection.ld[call.op](...(call.args || []));
            answers.push({ok: result === undefined ? null : result});
        } catch (error) {
            answers.push({
                error: error.constructor.name,
                message: error.message || null,
                details: error.details || null,
            });
        }
    }
    process.stdout.write(JSON.stringify(answers));
}

main().catch((error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exit(1);
});
