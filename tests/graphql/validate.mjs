// Validates GraphQL documents against GitHub's published schema (@octokit/graphql-schema).
// Reads {"name": "document", ...} as JSON on stdin; prints {"name": ["error", ...]} as JSON.
import { buildSchema, parse, validate } from "graphql";
import { readFileSync } from "node:fs";
import { schema as github } from "@octokit/graphql-schema";

const sdl = github.idl;
// GitHub's SDL repeats two Enterprise fields; validating documents does not need it strict.
const schema = buildSchema(sdl, { assumeValidSDL: true });
const docs = JSON.parse(readFileSync(0, "utf8"));
const found = {};
for (const [name, doc] of Object.entries(docs)) {
  found[name] = validate(schema, parse(doc)).map((error) => error.message);
}
console.log(JSON.stringify(found));
