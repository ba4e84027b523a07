// Times node-x12 (npm) on the X12 file written by `examples/x12_bench.rs`, for
// bench/x12_vs_node.sh. Usage: node x12_node.js FILE RUNS [MODULE_DIR]
//   parse: X12Parser(strict).parse, which also checks IEA/GE/SE counts and control numbers
//          (the closest match to Tallyman's parse + envelope check);
//   map:   parse, then every transaction set through X12TransactionMap.toObject with a map of
//          about the same header and line columns as Tallyman's tables (node-x12's mapping API);
//   json:  parse, then interchange.toJSON() (a plain object dump, no column selection).
// Prints one line per mode and a final `RESULT key=MB/s ...` line (median wall time of RUNS).
'use strict'
const fs = require('fs')
const path = require('path')

const [file, runsArg, moduleDir] = process.argv.slice(2)
if (!file) {
  console.error('usage: node x12_node.js FILE RUNS [MODULE_DIR]')
  process.exit(2)
}
const runs = Math.max(1, parseInt(runsArg || '3', 10))
const { X12Parser } = require(moduleDir ? path.resolve(moduleDir, 'node_modules', 'node-x12') : 'node-x12')

// Columns as in Tallyman's x12_*_header / x12_*_lines (src/formats/x12/table.rs), in
// node-x12's query language; FOREACH gives one value per line loop.
const party = q => ({ [`${q}_name`]: `N102:N101["${q}"]`, [`${q}_id`]: `N104:N101["${q}"]` })
const lines = (loop, els) =>
  Object.fromEntries(els.map(e => [e, [`FOREACH(${loop})=>${e}`]]))
const MAPS = {
  850: {
    po_number: 'BEG03', po_date: 'BEG05', purpose: 'BEG01', po_type: 'BEG02', ...party('BY'), ...party('ST'),
    ship_to_address: 'N301', ship_to_city: 'N401', ship_to_state: 'N402', ship_to_postal: 'N403', currency: 'CUR02',
    ...lines('PO1', ['PO101', 'PO102', 'PO103', 'PO104', 'PO106', 'PO107'])
  },
  856: {
    shipment_id: 'BSN02', ship_date: 'BSN03', carrier: 'TD503', tracking: 'REF02:REF01["CN"]', order_number: 'PRF01',
    pack: 'MAN02', ...lines('HL', ['HL01', 'HL02']), ...lines('LIN', ['LIN02', 'LIN03']), ...lines('SN1', ['SN102', 'SN103'])
  },
  940: {
    order_number: 'W0502', po_number: 'W0503', ...party('ST'), carrier: 'W6610', requested_ship_date: 'G6202',
    ...lines('W01', ['W0101', 'W0102', 'W0103', 'W0105'])
  },
  945: {
    order_number: 'W0602', ship_date: 'W0603', shipment_id: 'W0604', po_number: 'W0606', ...party('ST'), carrier: 'W2702',
    units_shipped: 'W0301', weight: 'W0302', weight_unit: 'W0303',
    ...lines('W12', ['W1201', 'W1202', 'W1203', 'W1204', 'W1205', 'W1206', 'W1209'])
  }
}

function interchangesOf (parsed) {
  return parsed.interchanges ? parsed.interchanges : [parsed]
}

function parse (edi) {
  const parsed = new X12Parser(true).parse(edi)
  let sets = 0
  for (const ic of interchangesOf(parsed)) for (const g of ic.functionalGroups) sets += g.transactions.length
  return sets
}

function map (edi) {
  const parsed = new X12Parser(true).parse(edi)
  let values = 0
  for (const ic of interchangesOf(parsed)) {
    for (const g of ic.functionalGroups) {
      for (const tx of g.transactions) {
        const m = MAPS[tx.header.valueOf(1)]
        if (m) values += Object.keys(tx.toObject(m)).length
      }
    }
  }
  return values
}

function json (edi) {
  const parsed = new X12Parser(true).parse(edi)
  return interchangesOf(parsed).map(ic => ic.toJSON()).length
}

const median = v => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)]

const edi = fs.readFileSync(file, 'latin1')
const mb = Buffer.byteLength(edi, 'latin1') / 1e6
const modes = (process.env.NODE_X12_MODES || 'parse,map,json').split(',')
const results = []
for (const [key, f] of [['parse', parse], ['map', map], ['json', json]]) {
  if (!modes.includes(key)) continue
  const times = []
  let check = 0
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint()
    check = f(edi)
    times.push(Number(process.hrtime.bigint() - t) / 1e9)
  }
  const s = median(times)
  console.log(`node-x12 ${key}: ${(mb / s).toFixed(1)} MB/s wall (${mb.toFixed(1)} MB, median of ${runs}: ${(s * 1e3).toFixed(0)} ms; ${check})`)
  results.push(`node_${key}=${(mb / s).toFixed(2)}`)
}
console.log(`RESULT ${results.join(' ')}`)
