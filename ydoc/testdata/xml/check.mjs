// Loads Yjs updates the way a browser would and reports what y-prosemirror
// sees. Usage: node check.mjs <request.json>, where the request is
// {"updates": [base64…], "expect": <PM JSON>?}. Prints
// {"json": normalized yXmlFragmentToProsemirrorJSON,
//  "root": yXmlFragmentToProseMirrorRootNode(…).toJSON(),
//  "expectRoot": Node.fromJSON(schema, expect).toJSON()}.
import { readFileSync } from 'node:fs'
import * as Y from 'yjs'
import { yXmlFragmentToProsemirrorJSON, yXmlFragmentToProseMirrorRootNode } from 'y-prosemirror'
import { Node } from 'prosemirror-model'
import { schema, normalize } from './schema.mjs'

const req = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const doc = new Y.Doc()
for (const u of req.updates) Y.applyUpdate(doc, Buffer.from(u, 'base64'))
const frag = doc.getXmlFragment('prosemirror')
const out = {
  json: normalize(yXmlFragmentToProsemirrorJSON(frag)),
  root: yXmlFragmentToProseMirrorRootNode(frag, schema).toJSON()
}
if (req.expect) out.expectRoot = Node.fromJSON(schema, req.expect).toJSON()
process.stdout.write(JSON.stringify(out))
