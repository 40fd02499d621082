// Parse Mermaid diagrams with Mermaid's own parser, offline.
// stdin: a JSON array of diagram sources (no ``` fences). stdout: a JSON array with one
// {"ok": true, "type": "..."} or {"ok": false, "error": "..."} per diagram.
// Mermaid sanitises text with DOMPurify, which needs a DOM: jsdom provides one.
import { JSDOM } from "jsdom";

const dom = new JSDOM("");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

let input = "";
for await (const chunk of process.stdin) input += chunk;

const results = [];
for (const source of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(source);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String(error.message || error).slice(0, 500) });
  }
}
process.stdout.write(JSON.stringify(results));
