// Validates a Kubernetes Job manifest (YAML) against the Kubernetes schema of the kubernetes-models package.
// usage: node check-job.cjs NODE_MODULES_DIR JOB.yaml   (npm i kubernetes-models@4.5.1 js-yaml@4)
// Checks types, enums and required fields; the schema allows unknown keys, so a misspelt field is not caught.
const fs = require("fs");
const path = require("path");
const [modules, file] = process.argv.slice(2);
const yaml = require(path.join(modules, "js-yaml"));
const { Job } = require(path.join(modules, "kubernetes-models", "batch", "v1"));
const doc = yaml.load(fs.readFileSync(file, "utf8"));
new Job(doc).validate();
console.log(`valid ${doc.apiVersion} ${doc.kind} ${doc.metadata.name}`);
